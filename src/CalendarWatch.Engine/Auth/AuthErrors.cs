using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Http;
using Google.Apis.Auth.OAuth2.Responses;

namespace CalendarWatch.Engine.Auth
{
    /// <summary>
    /// Turns token-endpoint and scope failures into <see cref="CalendarWatchException"/>s that name the fix. Messages
    /// carry emails, client IDs, scopes and Google's error text, never a token or key.
    /// </summary>
    public static class AuthErrors
    {
        /// <summary>Where domain-wide delegation is granted.</summary>
        public const string AdminConsolePath = "Admin console (Security > API controls > Domain-wide delegation)";

        /// <summary>A failure while getting a token for (subject, scopes) from <paramref name="identity"/>.</summary>
        /// <param name="isServiceAccount">True for a service account key (invalid_grant then means key, clock or subject).</param>
        public static CalendarWatchException FromTokenFailure(Exception failure, string identity, string? clientId, string? subject, IReadOnlyList<string> scopes, bool isServiceAccount = true)
        {
            if (failure is null) throw new ArgumentNullException(nameof(failure));
            var scopeText = string.Join(",", scopes);
            var acting = subject is null ? identity : $"{identity} acting as {subject}";
            CalendarWatchException result;
            for (var inner = failure; inner != null; inner = inner.InnerException)
            {
                if (inner is ProxyAuthenticationRequiredException proxyRefusal)
                {
                    return new CalendarWatchException("CalendarWatch.ProxyAuthenticationRequired", FailureKind.AuthenticationError, proxyRefusal.Message) { Subject = subject, Phase = FailurePhase.TokenEndpoint };
                }
            }

            switch (failure)
            {
                case TokenResponseException tokenError:
                    var code = tokenError.Error?.Error ?? string.Empty;
                    var google = GoogleSaid(tokenError);
                    switch (code)
                    {
                        case "unauthorized_client":
                            result = new CalendarWatchException("CalendarWatch.UnauthorizedClient", FailureKind.PermissionDenied,
                                $"Google refused a token for {acting} (unauthorized_client): client ID {clientId ?? "(the service account's Unique ID)"} has not been granted scope {scopeText} in the {AdminConsolePath}. " +
                                $"Add client ID {clientId ?? "(see IAM & Admin > Service accounts > Unique ID)"} there with exactly these OAuth scopes: {scopeText} — or connect with -Scope naming scopes already granted.{google}", tokenError);
                            break;
                        case "invalid_grant":
                            result = new CalendarWatchException("CalendarWatch.InvalidGrant", FailureKind.AuthenticationError,
                                isServiceAccount
                                    ? $"Google refused a token for {acting} (invalid_grant). Either the key was revoked or deleted (IAM & Admin > Service accounts > Keys: create a new JSON key), this computer's clock is more than a few minutes off (synchronize it), or " +
                                      (subject is null ? "the service account itself was deleted or disabled." : $"'{subject}' is not an active user of the Workspace domain (check the spelling; suspended and deleted users cannot be impersonated).") + google
                                    : $"Google refused to refresh the credentials of {acting} (invalid_grant): the refresh token was revoked or has expired. Run 'gcloud auth application-default login' again, then Connect-CalendarWatch -ApplicationDefault.{google}",
                                tokenError);
                            break;
                        case "invalid_client":
                            result = new CalendarWatchException("CalendarWatch.InvalidClient", FailureKind.AuthenticationError,
                                $"Google does not accept {identity} as a client (invalid_client): the service account or its key may have been deleted or disabled. Create a new JSON key (IAM & Admin > Service accounts > Keys).{google}", tokenError);
                            break;
                        case "invalid_scope":
                            result = new CalendarWatchException("CalendarWatch.InvalidScope", FailureKind.InvalidArgument,
                                $"Google refused the OAuth scope(s) {scopeText} for {acting} (invalid_scope). Give full scope URLs such as {Scopes.EventsReadonly}.{google}", tokenError);
                            break;
                        case "access_denied":
                            result = new CalendarWatchException("CalendarWatch.AccessDenied", FailureKind.PermissionDenied,
                                $"Google denied a token for {acting} with scope(s) {scopeText} (access_denied).{google}", tokenError);
                            break;
                        default:
                            var statusCode = tokenError.StatusCode is System.Net.HttpStatusCode s ? (int)s : 0;
                            var status = statusCode != 0 ? "HTTP " + statusCode + " " : string.Empty;
                            // 5xx and 429 from the token endpoint are as passing as the API's: retried like them.
                            var passing = statusCode >= 500 || statusCode == 429;
                            result = new CalendarWatchException("CalendarWatch.TokenRequestFailed", passing ? FailureKind.ResourceUnavailable : FailureKind.AuthenticationError,
                                $"The token request for {acting} with scope(s) {scopeText} failed ({status}{(code.Length > 0 ? code : "no error code")}).{(passing ? " The token endpoint is failing; trying again later usually works." : string.Empty)}{google}", tokenError)
                            { IsTransient = passing };
                            break;
                    }

                    break;
                case HttpRequestException _:
                case IOException _:
                    result = new CalendarWatchException("CalendarWatch.ConnectionFailed", FailureKind.ConnectionError,
                        $"The token endpoint of {identity} could not be reached: {ExceptionText.InnermostMessage(failure)}. Nothing was sent to the Calendar API. Check the key's token_uri, that the host is reachable, and any proxy or firewall.", failure)
                    { IsTransient = true };
                    break;
                case OperationCanceledException _:
                    result = new CalendarWatchException("CalendarWatch.Timeout", FailureKind.OperationTimeout,
                        $"The token endpoint of {identity} did not answer in time. Nothing was sent to the Calendar API.", failure)
                    { IsTransient = true };
                    break;
                default:
                    // Google.Apis.Auth's own messages (InvalidOperationException...) name no secret.
                    result = new CalendarWatchException("CalendarWatch.TokenRequestFailed", FailureKind.AuthenticationError,
                        $"No token could be obtained for {acting} with scope(s) {scopeText}: {failure.Message}", failure);
                    break;
            }

            result.Subject = subject;
            result.Phase = FailurePhase.TokenEndpoint;
            return result;
        }

        /// <summary>
        /// A 403 insufficientPermissions, retold with the scopes the token was asked for and the ones
        /// <paramref name="method"/> accepts (from the discovery document).
        /// </summary>
        public static CalendarApiException InsufficientPermissions(CalendarApiException error, string method, IReadOnlyList<string> scopesUsed, IReadOnlyList<string> scopesAccepted)
        {
            if (error is null) throw new ArgumentNullException(nameof(error));
            var used = scopesUsed.Count == 0 ? "no scope" : string.Join(", ", scopesUsed);
            var overlap = scopesUsed.Intersect(scopesAccepted, StringComparer.Ordinal).ToArray();
            var advice = overlap.Length == 0
                ? $"The token was asked for scope(s) {used}, but {method} accepts only: {string.Join(", ", scopesAccepted)}. Connect with -Scope naming one of those (for domain-wide delegation, grant it in the {AdminConsolePath} too), or leave -Scope out to ask for the narrowest scope per method."
                : $"The token was asked for scope(s) {used}, which {method} accepts ({string.Join(", ", overlap)}), but the token the server saw lacks it: the credential may not have been granted that scope (for domain-wide delegation, check the {AdminConsolePath}; for user credentials, log in again with that scope).";
            var message = $"HTTP {error.StatusCode} insufficientPermissions: {advice} (Google: {error.ApiMessage})";
            return new CalendarApiException(error.StatusCode, error.Reason, error.Domain, error.ApiMessage, error.Status, message)
            {
                RetryAfter = error.RetryAfter,
                CalendarId = error.CalendarId,
                ChannelId = error.ChannelId,
                Subject = error.Subject,
            };
        }

        /// <summary>
        /// A 401 answered to an emulator connection, which sends no token: the emulator was started with auth (without
        /// --no-auth). Says both ways out, with the emulator's own addresses.
        /// </summary>
        public static CalendarWatchException EmulatorRequiresAuth(Uri emulator, CalendarApiException error)
        {
            if (emulator is null) throw new ArgumentNullException(nameof(emulator));
            if (error is null) throw new ArgumentNullException(nameof(error));
            var root = emulator.AbsoluteUri;
            return new CalendarWatchException("CalendarWatch.EmulatorRequiresAuth", FailureKind.AuthenticationError,
                $"The emulator at {root} requires auth (HTTP {error.StatusCode}): it was started without --no-auth, and an emulator connection " +
                $"(Connect-CalendarWatch -Emulator, or {CalendarConnection.EmulatorHostVariable}) sends no token. Either restart the emulator with --no-auth, " +
                $"or register a service account with it ({root}emulator/v1/serviceAccounts) and connect with Connect-CalendarWatch -KeyFile <its key, whose token_uri is {root}token> -ApiEndpoint {root}. " +
                $"(Emulator: {error.ApiMessage})", error);
        }

        private static string GoogleSaid(TokenResponseException error)
        {
            var description = error.Error?.ErrorDescription;
            return string.IsNullOrWhiteSpace(description) ? string.Empty : $" (Google: {description!.Trim()})";
        }
    }
}
