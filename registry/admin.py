from django.contrib import admin

from registry.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Searchable and read-only: nobody adds, edits or deletes entries here."""

    list_display = [
        "created_at",
        "actor_name",
        "api_key_name",
        "interface",
        "action",
        "content_type",
        "object_repr",
        "address",
    ]
    list_filter = ["interface", "action", "content_type", "created_at"]
    search_fields = ["object_repr", "object_id", "actor_name", "api_key_name"]
    list_select_related = ["content_type"]
    date_hierarchy = "created_at"
    # Cheap counts: the log only grows.
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
