from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter
from rest_framework_simplejwt.views import TokenBlacklistView, TokenRefreshView

from accounts.api.views import LoginView
from deployments.api.hooks import DeployHookView
from deployments.api.releases import LedgerView, ReleaseListView, ReleaseSyncView
from deployments.api.variables import VariablesView, VariableView
from deployments.api.views import (
    DeploymentViewSet,
    EnvironmentViewSet,
    ServiceRollbackView,
)
from health.api.views import HealthOverviewView, ServiceHealthView
from registry.api.views import ApiRootView, AuditEntryViewSet, DiscoveryView
from services.api.views import ServiceViewSet, service_config_schema

router = SimpleRouter()
# Paths answer with or without a trailing slash: /api/services and /api/services/.
router.trailing_slash = "/?"
router.register("services", ServiceViewSet, basename="service")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("environments", EnvironmentViewSet, basename="environment")
router.register("audit", AuditEntryViewSet, basename="audit")

api = [
    path("", ApiRootView.as_view(), name="api-root"),
    path(
        "services/<slug:service_id>/variables/<slug:environment>",
        VariablesView.as_view(),
        name="service-variables",
    ),
    path(
        "services/<slug:service_id>/variables/<slug:environment>/<str:key>",
        VariableView.as_view(),
        name="service-variable",
    ),
    path(
        "services/<slug:service_id>/releases",
        ReleaseListView.as_view(),
        name="service-releases",
    ),
    path(
        "services/<slug:service_id>/releases/sync",
        ReleaseSyncView.as_view(),
        name="service-releases-sync",
    ),
    path(
        "services/<slug:service_id>/ledger",
        LedgerView.as_view(),
        name="service-ledger",
    ),
    path(
        "services/<slug:service_id>/rollback",
        ServiceRollbackView.as_view(),
        name="service-rollback",
    ),
    path("hooks/deploy", DeployHookView.as_view(), name="deploy-hook"),
    path("discovery", DiscoveryView.as_view(), name="discovery"),
    path("health", HealthOverviewView.as_view(), name="health-overview"),
    path(
        "health/<slug:service_id>", ServiceHealthView.as_view(), name="service-health"
    ),
    path(
        "schemas/service-config.json",
        service_config_schema,
        name="service-config-schema",
    ),
    path("auth/token", LoginView.as_view(), name="token-obtain"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout", TokenBlacklistView.as_view(), name="token-blacklist"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("api/", include(api)),
    path("admin/", admin.site.urls),
]
