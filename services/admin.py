"""The catalog in the admin, and the operators' way to deploy from it.

Deploying goes through ``deployments.actions`` exactly as the API does: the
admin only collects the environment and version, then calls the domain
functions and reports what they said.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max, OuterRef, Prefetch, Subquery
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from guardian.admin import GuardedModelAdmin

from accounts.admin import ServiceScopedAdminMixin
from accounts.permissions import check_can_deploy
from deployments.actions import request_deployment, validate_request
from deployments.choices import Trigger
from deployments.models import VERSION_MAX_LENGTH, Deployment, Environment
from health.choices import HealthStatus
from health.models import CheckResult
from registry.exceptions import RegistryError
from services.models import Endpoint, Service

RECENT_VERSION_LIMIT = 10
DEPLOY_PERMISSION = "services.deploy_service"
HEALTH_MARKS = {
    HealthStatus.UP: ("●", "#1e7e34"),
    HealthStatus.DOWN: ("✖", "#c0392b"),
}
UNCHECKED_MARK = ("?", "inherit")


def recent_versions(services, limit=RECENT_VERSION_LIMIT):
    """Distinct versions deployed of ``services``, newest first; one query."""
    rows = (
        Deployment.objects.filter(service__in=services)
        .values("version")
        .annotate(last_requested=Max("created_at"))
        .order_by("-last_requested")[:limit]
    )
    return [row["version"] for row in rows]


class EnvironmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} (protected)" if obj.protected else obj.name


class DeployForm(forms.Form):
    """Environment and version of a deployment asked for in the admin.

    The version is free text; the domain decides whether it is valid, so the
    admin and the API refuse the same requests with the same message.
    """

    environment = EnvironmentChoiceField(queryset=Environment.objects.all())
    version = forms.CharField(
        max_length=VERSION_MAX_LENGTH,
        widget=forms.TextInput(
            attrs={"list": "recent-versions", "autocomplete": "off"}
        ),
        help_text="Suggestions are the versions deployed most recently.",
    )

    def __init__(self, *args, services, **kwargs):
        super().__init__(*args, **kwargs)
        self.services = list(services)
        self.suggested_versions = recent_versions(self.services)


class HasImageFilter(admin.SimpleListFilter):
    title = "docker image"
    parameter_name = "has_image"

    def lookups(self, request, model_admin):
        return [("yes", "Has an image"), ("no", "No image")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(docker_image="")
        if self.value() == "no":
            return queryset.filter(docker_image="")
        return queryset


class CurrentEnvironmentFilter(admin.SimpleListFilter):
    title = "deployed to"
    parameter_name = "deployed_to"

    def lookups(self, request, model_admin):
        return [
            (name, name) for name in Environment.objects.values_list("name", flat=True)
        ]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        # One filter() call, so both conditions hold for the same deployment.
        return queryset.filter(
            deployments__is_current=True,
            deployments__environment__name=self.value(),
        )


class EndpointInline(admin.TabularInline):
    model = Endpoint
    extra = 0
    fields = ["position", "method", "path", "description"]


@admin.register(Service)
class ServiceAdmin(ServiceScopedAdminMixin, GuardedModelAdmin):
    # Adds the deploy button to guardian's change form, which links the
    # per-service ("object") permissions page.
    change_form_template = "admin/services/service/change_form.html"
    list_display = [
        "slug",
        "name",
        "image",
        "port",
        "health_check_path",
        "current_deployments",
        "nginx_enabled",
        "updated_at",
    ]
    list_filter = ["nginx_enabled", HasImageFilter, CurrentEnvironmentFilter]
    search_fields = ["slug", "name", "description", "repository_url"]
    readonly_fields = [
        "config_link",
        "current_deployments",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["slug", "name", "description", "config_link"]}),
        ("Source", {"fields": ["repository_url", "repository_branch", "source_path"]}),
        (
            "Running",
            {
                "fields": [
                    "docker_registry",
                    "docker_image",
                    "process_command",
                    "process_directory",
                    "port",
                    "health_check_path",
                    "required_env",
                    "optional_env",
                ]
            },
        ),
        ("Routing", {"fields": ["domains", "nginx_enabled", "nginx_ssl"]}),
        ("State", {"fields": ["current_deployments", "created_at", "updated_at"]}),
    ]
    inlines = [EndpointInline]
    actions = ["deploy_version"]

    def get_queryset(self, request):
        """Current deployments and their latest health come in one extra query."""
        latest_status = CheckResult.objects.filter(deployment=OuterRef("pk")).order_by(
            "-checked_at", "-id"
        )
        current = (
            Deployment.objects.filter(is_current=True)
            .select_related("environment")
            .annotate(health=Subquery(latest_status.values("status")[:1]))
            .order_by("environment__name")
        )
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("deployments", queryset=current, to_attr="current")
            )
        )

    def get_urls(self):
        deploy = path(
            "<path:object_id>/deploy/",
            self.admin_site.admin_view(self.deploy_view),
            name="services_service_deploy",
        )
        return [deploy, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_deploy": self.has_deploy_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_deploy_permission(self, request):
        # Only decides whether the action is offered; the per-service and
        # protected-environment rules are checked for each service on submit.
        return request.user.has_perm(DEPLOY_PERMISSION)

    @admin.display(description="image", ordering="docker_image")
    def image(self, obj):
        return obj.image_repository or "—"

    @admin.display(description="current deployments")
    def current_deployments(self, obj):
        if not getattr(obj, "current", None):
            return "—"
        rows = (
            (
                reverse("admin:deployments_deployment_change", args=[d.pk]),
                d.environment.name,
                d.version,
                d.health or "not checked",
                *HEALTH_MARKS.get(d.health, UNCHECKED_MARK)[::-1],
            )
            for d in obj.current
        )
        return format_html_join(
            "",
            '<div><a href="{}">{}: {}</a> '
            '<span title="{}" style="color: {}">{}</span></div>',
            rows,
        )

    @admin.display(description="definition")
    def config_link(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("service-config", kwargs={"id": obj.slug})
        return format_html('<a href="{}">service-config.yaml</a>', url)

    @admin.action(description="Deploy a version…", permissions=["deploy"])
    def deploy_version(self, request, queryset):
        return self._deploy(request, queryset, through_action=True)

    def deploy_view(self, request, object_id):
        if not self.has_deploy_permission(request):
            raise PermissionDenied
        service = self.get_object(request, unquote(object_id))
        if service is None:
            raise Http404("No such service.")
        return self._deploy(request, [service], through_action=False)

    def _deploy(self, request, services, through_action):
        """Show the deploy form, or deploy every service if it was submitted."""
        submitted = request.method == "POST" and "deploy" in request.POST
        form = DeployForm(request.POST if submitted else None, services=services)
        if form.is_valid():
            deployments = self._request_all(request, form)
            if deployments and not through_action:
                return HttpResponseRedirect(
                    reverse(
                        "admin:deployments_deployment_change",
                        args=[deployments[0].pk],
                    )
                )
            if deployments:
                return None
        return self._render_form(request, form, through_action)

    def _request_all(self, request, form):
        """All or nothing: one refused service means no deployment at all."""
        environment = form.cleaned_data["environment"]
        version = form.cleaned_data["version"]
        refused = self._refusals(request.user, form.services, environment, version)
        if refused:
            for service, exc in refused:
                message = f"Cannot deploy {service}: {exc.message}"
                self.message_user(request, message, messages.ERROR)
            return []

        try:
            with transaction.atomic():
                deployments = [
                    request_deployment(
                        service,
                        environment,
                        version,
                        user=request.user,
                        trigger=Trigger.ADMIN,
                    )
                    for service in form.services
                ]
        except RegistryError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return []

        for deployment in deployments:
            self._report_queued(request, deployment)
        return deployments

    @staticmethod
    def _refusals(user, services, environment, version):
        """Every selected service's reason not to deploy, so all show at once."""
        refused = []
        for service in services:
            try:
                check_can_deploy(user, service, environment)
                validate_request(service, environment, version)
            except RegistryError as exc:
                refused.append((service, exc))
        return refused

    def _report_queued(self, request, deployment):
        url = reverse("admin:deployments_deployment_change", args=[deployment.pk])
        text = format_html(
            'Deployment <a href="{}">#{}</a> of {} {} to {} is {}.',
            url,
            deployment.pk,
            deployment.service,
            deployment.version,
            deployment.environment,
            deployment.status,
        )
        self.message_user(request, text, messages.SUCCESS)

    def _render_form(self, request, form, through_action):
        context = {
            **self.admin_site.each_context(request),
            "title": "Deploy a version",
            "opts": self.model._meta,
            "form": form,
            "services": form.services,
            "through_action": through_action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/services/service/deploy.html", context)
