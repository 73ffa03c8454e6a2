"""Environments, configuration values and deployments in the admin.

Deployments, releases and the ledger are history: deployments are created
only by ``deployments.actions.request_deployment`` (the service admin's
"Deploy a version…" calls it), and none of them is edited or deleted here. Configuration
values are write-only: the admin sets them but never shows them.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.admin import ServiceScopedAdminMixin
from deployments.choices import DeploymentStatus
from deployments.hooks import TOKEN_PREFIX, issue_hook, revoke_hook
from deployments.models import (
    ConfigValue,
    DeployHook,
    Deployment,
    Environment,
    LedgerEntry,
    Release,
)

LOG_DISPLAY_LIMIT = 1000
STATUS_COLOURS = {
    DeploymentStatus.PENDING: "#6c757d",
    DeploymentStatus.RUNNING: "#0b62c4",
    DeploymentStatus.SUCCEEDED: "#1e7e34",
    DeploymentStatus.FAILED: "#c0392b",
}
DEFAULT_STATUS_COLOUR = "#6c757d"
MASK = "••••••••"


class HistoryAdmin(admin.ModelAdmin):
    """Shows every field read-only; nothing can be added, changed or deleted.

    ``leading_fields`` come first on the page, the model's other fields after.
    """

    leading_fields = []

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in self.model._meta.concrete_fields if f.name != "id"]
        rest = [name for name in names if name not in self.leading_fields]
        extra = [
            name for name in self.readonly_fields if name not in self.leading_fields
        ]
        return [*self.leading_fields, *rest, *extra]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def format_duration(delta):
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "backend",
        "protected",
        "strategy",
        "current_count",
        "active_count",
        "description",
    ]
    list_filter = ["backend", "protected", "strategy"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        # Both counts come from one join, so they cannot multiply each other.
        return (
            super()
            .get_queryset(request)
            .annotate(
                current_count=Count(
                    "deployments", filter=Q(deployments__is_current=True)
                ),
                active_count=Count(
                    "deployments",
                    filter=Q(deployments__status__in=DeploymentStatus.active()),
                ),
            )
        )

    @admin.display(description="services running", ordering="current_count")
    def current_count(self, obj):
        return obj.current_count

    @admin.display(description="deployments in progress", ordering="active_count")
    def active_count(self, obj):
        return obj.active_count


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that renders empty, even after a submission with errors."""

    def format_value(self, value):
        return None


class ConfigValueForm(forms.ModelForm):
    """Sets a value without ever sending the stored one to the browser."""

    new_value = forms.CharField(
        required=False,
        strip=False,
        label="New value",
        widget=WriteOnlyTextarea(
            attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="Write-only: the stored value is never shown. "
        "Leave blank to keep it.",
    )
    clear_value = forms.BooleanField(required=False, label="Set an empty value")

    class Meta:
        model = ConfigValue
        fields = ["service", "environment", "key", "secret"]

    def clean(self):
        cleaned = super().clean()
        new_value = cleaned.get("new_value")
        if new_value and cleaned.get("clear_value"):
            raise forms.ValidationError("Give a new value or clear it, not both.")
        if (
            self.instance.pk is None
            and not new_value
            and not cleaned.get("clear_value")
        ):
            raise forms.ValidationError(
                "Give a value, or tick “Set an empty value” to store an empty one."
            )
        # Secrets are write-only: making one public takes the value again, as
        # the API's PUT does, or the stored secret would be published unseen.
        if (
            self.instance.pk is not None
            and self.initial.get("secret")
            and not cleaned.get("secret")
            and not new_value
            and not cleaned.get("clear_value")
        ):
            self.add_error(
                "new_value", "Enter the value again to make a secret value public."
            )
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("clear_value"):
            self.instance.value = ""
        elif self.cleaned_data.get("new_value"):
            self.instance.value = self.cleaned_data["new_value"]
        return super().save(commit)


@admin.register(ConfigValue)
class ConfigValueAdmin(ServiceScopedAdminMixin, admin.ModelAdmin):
    form = ConfigValueForm
    list_display = [
        "key",
        "service",
        "environment",
        "masked_value",
        "secret",
        "updated_at",
    ]
    list_filter = ["environment", "secret"]
    list_select_related = ["service", "environment"]
    search_fields = ["key", "service__slug"]
    raw_id_fields = ["service"]
    readonly_fields = ["masked_value", "created_at", "updated_at"]

    def get_fields(self, request, obj=None):
        fields = ["service", "environment", "key", "secret"]
        if obj is not None:
            fields.append("masked_value")
        can_write = (
            self.has_add_permission(request)
            if obj is None
            else self.has_change_permission(request, obj)
        )
        if can_write:
            fields += ["new_value", "clear_value"]
        return [*fields, "created_at", "updated_at"]

    # Every value is masked, secret or not: the admin is no place to read
    # configuration, and a value marked non-secret by mistake stays hidden.
    @admin.display(description="value")
    def masked_value(self, obj):
        return MASK if obj.value else "(empty)"


@admin.register(Deployment)
class DeploymentAdmin(ServiceScopedAdminMixin, HistoryAdmin):
    list_display = [
        "id",
        "service",
        "version",
        "environment",
        "coloured_status",
        "trigger",
        "requested_by",
        "created_at",
        "duration",
        "is_current",
    ]
    list_filter = [
        "status",
        "environment",
        "trigger",
        "is_current",
        "backend",
        "kind",
        "strategy",
    ]
    list_select_related = ["service", "environment", "requested_by"]
    search_fields = ["service__slug", "version"]
    raw_id_fields = ["service"]
    readonly_fields = ["duration", "log"]
    leading_fields = [
        "service",
        "environment",
        "version",
        "status",
        "is_current",
        "trigger",
        "requested_by",
        "duration",
        "error",
        "log",
    ]
    date_hierarchy = "created_at"

    @admin.display(description="status", ordering="status")
    def coloured_status(self, obj):
        colour = STATUS_COLOURS.get(obj.status, DEFAULT_STATUS_COLOUR)
        return format_html(
            '<span style="color: {}; font-weight: bold">{}</span>',
            colour,
            obj.get_status_display(),
        )

    @admin.display(description="duration")
    def duration(self, obj):
        if obj.started_at is None:
            return "—"
        end = obj.finished_at
        if end is None and obj.status == DeploymentStatus.RUNNING:
            end = timezone.now()
        return format_duration(end - obj.started_at) if end else "—"

    @admin.display(description="log")
    def log(self, obj):
        """The newest lines of the log; one query."""
        # Known limitation: only the last LOG_DISPLAY_LIMIT lines are shown
        # here; the API's log endpoint pages through all of them.
        lines = list(obj.log_lines.order_by("-seq")[:LOG_DISPLAY_LIMIT])
        if not lines:
            return "—"
        lines.reverse()
        body = format_html_join(
            "\n",
            "{} {}  {}",
            (
                (
                    line.seq,
                    line.created_at.strftime("%H:%M:%S"),
                    line.message,
                )
                for line in lines
            ),
        )
        return format_html(
            '<pre style="white-space: pre-wrap; margin: 0">{}</pre>', body
        )


@admin.register(Release)
class ReleaseAdmin(ServiceScopedAdminMixin, HistoryAdmin):
    list_display = [
        "service",
        "version",
        "image",
        "short_digest",
        "is_bad",
        "marked_bad_at",
        "created_at",
    ]
    list_filter = ["is_bad"]
    list_select_related = ["service"]
    search_fields = ["service__slug", "version", "git_commit", "digest"]
    raw_id_fields = ["service"]
    date_hierarchy = "created_at"

    @admin.display(description="digest", ordering="digest")
    def short_digest(self, obj):
        return obj.digest[:19] if obj.digest else "—"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ServiceScopedAdminMixin, HistoryAdmin):
    list_display = [
        "number",
        "service",
        "environment",
        "kind",
        "version",
        "trigger",
        "actor",
        "created_at",
    ]
    list_filter = ["kind", "environment", "trigger"]
    list_select_related = ["service", "environment", "actor"]
    search_fields = ["service__slug", "version", "reason"]
    raw_id_fields = ["service", "deployment"]
    date_hierarchy = "created_at"


class DeployHookCreationForm(forms.ModelForm):
    class Meta:
        model = DeployHook
        fields = ["service", "environment", "name"]


@admin.register(DeployHook)
class DeployHookAdmin(ServiceScopedAdminMixin, admin.ModelAdmin):
    """Hooks are created here (the token is shown once) and revoked, never edited."""

    list_display = [
        "name",
        "service",
        "environment",
        "created_by",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["environment", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "service__slug", "created_by__username"]
    list_select_related = ["service", "environment", "created_by"]
    readonly_fields = [
        "name",
        "service",
        "environment",
        "created_by",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    @admin.display(description="token")
    def prefix(self, obj):
        return f"{TOKEN_PREFIX}{obj.lookup}…"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = DeployHookCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        if obj is None:
            return DeployHookCreationForm.Meta.fields
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        hook, token = issue_hook(
            data["service"], data["environment"], request.user, data["name"]
        )
        obj.pk, obj.lookup = hook.pk, hook.lookup
        obj._state.adding = False
        messages.warning(
            request,
            f"The hook's token is {token}; copy it now, it is not shown again. "
            "Deploys through it run with your permissions.",
        )

    def has_delete_permission(self, request, obj=None):
        # Revoke instead, so the audit log keeps pointing at a real hook.
        return False

    @admin.action(description="Revoke the selected hooks now")
    def revoke(self, request, queryset):
        hooks = list(queryset.filter(revoked_at__isnull=True))
        for hook in hooks:
            revoke_hook(hook)
        self.message_user(request, f"Revoked {len(hooks)} hook(s).")
