from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from accounts.choices import Scope
from accounts.models import ApiKey
from accounts.permissions import restrict


class ServiceScopedAdminMixin:
    """Staff see in the admin only the services, and their rows, they may view.

    The same rule as the API (``accounts.permissions.restrict``); rows of
    other services answer 404 on their change pages too.
    """

    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user)


class ApiKeyCreationForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Scope.READ],
    )

    class Meta:
        model = ApiKey
        fields = ["user", "name", "scopes", "services", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued here and shown once; afterwards only revoked."""

    list_display = [
        "name",
        "user",
        "prefix",
        "scopes",
        "limit_to_services",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "limit_to_services"]
    list_select_related = ["user"]
    search_fields = ["name", "lookup", "user__username"]
    raw_id_fields = ["user"]
    filter_horizontal = ["services"]
    actions = ["revoke"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "scopes",
        "limit_to_services",
        "services",
        "expires_at",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]

    @admin.display(description="Key starts with")
    def prefix(self, obj):
        return f"mrk_{obj.lookup}…"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        if obj is None:
            return ApiKeyCreationForm.Meta.fields
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        api_key, raw_key = ApiKey.issue(
            data["user"],
            data["name"],
            scopes=data["scopes"],
            services=list(data["services"]),
            expires_at=data["expires_at"],
        )
        obj.pk, obj.lookup = api_key.pk, api_key.lookup
        obj._state.adding = False
        messages.warning(
            request,
            f"The new key is {raw_key} — copy it now; it is not shown again.",
        )

    def save_related(self, request, form, formsets, change):
        # ApiKey.issue already stored the services.
        if change:
            super().save_related(request, form, formsets, change)

    def has_delete_permission(self, request, obj=None):
        # Revoke instead, so the audit log keeps pointing at a real key.
        return False

    @admin.action(description="Revoke the selected keys now")
    def revoke(self, request, queryset):
        count = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key.revoke()
            count += 1
        self.message_user(request, f"Revoked {count} key(s) at {timezone.now():%c}.")
