from django.core.management.base import BaseCommand
from django.db import transaction

from deployments.models import ConfigValue

BATCH_SIZE = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored configuration value under the first key in "
        "MECH_ENCRYPTION_KEYS. Put the new key first, keep the old ones after it, "
        "run this, then remove the old keys."
    )

    def handle(self, *args, **options):
        count = 0
        with transaction.atomic():
            values = ConfigValue.objects.select_for_update().order_by("pk")
            for value in values.iterator(chunk_size=BATCH_SIZE):
                # Loading decrypts with any listed key; saving encrypts with the first.
                value.save(update_fields=["value"])
                count += 1
        self.stdout.write(self.style.SUCCESS(f"re-encrypted {count} values"))
