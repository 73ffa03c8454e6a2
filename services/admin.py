from django.contrib import admin

from services.models import Endpoint, Service


class EndpointInline(admin.TabularInline):
    model = Endpoint
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "docker_image", "port", "updated_at"]
    search_fields = ["slug", "name", "description"]
    inlines = [EndpointInline]
