from rest_framework import serializers

from registry.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    createdAt = serializers.DateTimeField(source="created_at")
    actor = serializers.CharField(source="actor_name")
    apiKey = serializers.CharField(source="api_key_name")
    objectType = serializers.SerializerMethodField()
    objectId = serializers.CharField(source="object_id")
    object = serializers.CharField(source="object_repr")

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "createdAt",
            "interface",
            "actor",
            "apiKey",
            "address",
            "action",
            "objectType",
            "objectId",
            "object",
            "changes",
        ]
        read_only_fields = fields

    def get_objectType(self, entry) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"
