from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.views import TokenObtainPairView

from accounts import lockout
from registry.api.throttles import AddressRateThrottle, LoginRateThrottle


class LoginView(TokenObtainPairView):
    """Issues an access and a refresh token; repeated failures lock out.

    Failures are counted per address and per username, so neither one
    address trying many names nor many addresses trying one name go far.
    A locked username refuses even its right password; a locked address
    refuses only wrong ones (see ``accounts.lockout``).
    """

    throttle_classes = [AddressRateThrottle, LoginRateThrottle]

    def post(self, request, *args, **kwargs):
        address = lockout.client_address(request)
        username = str(request.data.get("username", ""))[:150].lower()
        lockout.check_not_blocked("login-user", username)
        try:
            return super().post(request, *args, **kwargs)
        except (AuthenticationFailed, TokenError) as error:
            lockout.record_failure("login-user", username)
            raise lockout.failed_attempt("login-address", address, error)
