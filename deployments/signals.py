"""Signals other apps listen to, so deployments need not import them."""

from django.dispatch import Signal

# Sent after a deployment became current; ``deployment`` is the instance.
deployment_succeeded = Signal()
