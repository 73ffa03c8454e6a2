"""Health check results in the admin: a read-only record of every probe.

Results are written only by the health check task; the table grows with
every check, so the list skips the full count and joins what it shows.
"""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.admin import ServiceScopedAdminMixin
from health.choices import HealthStatus
from health.models import CheckResult

ERROR_COLUMN_CHARS = 80
STATUS_COLOURS = {HealthStatus.UP: "#1e7e34", HealthStatus.DOWN: "#c0392b"}


@admin.register(CheckResult)
class CheckResultAdmin(ServiceScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "service",
        "environment",
        "coloured_status",
        "status_code",
        "latency",
        "checked_at",
        "short_error",
    ]
    list_filter = ["status", "environment"]
    list_select_related = ["service", "environment"]
    search_fields = ["service__slug", "error"]
    raw_id_fields = ["deployment", "service"]
    date_hierarchy = "checked_at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.concrete_fields if f.name != "id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def coloured_status(self, obj):
        return format_html(
            '<span style="color: {}; font-weight: bold">{}</span>',
            STATUS_COLOURS.get(obj.status, "inherit"),
            obj.get_status_display(),
        )

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, obj):
        if obj.latency_ms is None:
            return "—"
        return f"{obj.latency_ms:.0f} ms"

    @admin.display(description="error")
    def short_error(self, obj):
        return Truncator(obj.error).chars(ERROR_COLUMN_CHARS) or "—"
