using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;

namespace CalendarWatch.Emulator
{
    /// <summary>POST /token: the JWT-bearer grant (service accounts) and the refresh_token grant (users).</summary>
    internal sealed class TokenEndpoint
    {
        public const string JwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
        private static readonly TimeSpan TokenLifetime = TimeSpan.FromSeconds(3599);
        private static readonly TimeSpan AllowedSkew = TimeSpan.FromMinutes(5);
        private const long MaxAssertionSeconds = 3600;

        private readonly EmulatorState _state;
        private readonly Func<Uri> _tokenUri;

        public TokenEndpoint(EmulatorState state, Func<Uri> tokenUri) { _state = state; _tokenUri = tokenUri; }

        private sealed class OAuthError : Exception
        {
            public OAuthError(int status, string error, string description) : base(description) { Status = status; Error = error; }
            public int Status { get; }
            public string Error { get; }
        }

        public async Task HandleAsync(HttpListenerContext context)
        {
            if (context.Request.HttpMethod != "POST")
            {
                await HttpUtil.WriteJsonAsync(context, 405, Error("invalid_request", "The token endpoint accepts POST only.")).ConfigureAwait(false);
                return;
            }
            try
            {
                byte[] bytes;
                try { bytes = await HttpUtil.ReadBodyBytesAsync(context).ConfigureAwait(false); }
                catch (BodyTooLargeException e)
                {
                    throw new OAuthError(413, "invalid_request", "Request body too large: the token endpoint accepts at most " + e.Limit + " bytes.");
                }
                var form = HttpUtil.ParseForm((context.Request.ContentEncoding ?? Encoding.UTF8).GetString(bytes));
                var grant = HttpUtil.First(form, "grant_type");
                string token;
                if (grant == JwtBearerGrant) token = JwtBearer(HttpUtil.First(form, "assertion"));
                else if (grant == "refresh_token") token = RefreshToken(form);
                else if (string.IsNullOrEmpty(grant)) throw new OAuthError(400, "unsupported_grant_type", "Invalid grant_type: ");
                else throw new OAuthError(400, "unsupported_grant_type", "Invalid grant_type: " + HttpUtil.Clip(grant));
                await HttpUtil.WriteJsonAsync(context, 200, new JsonObject
                {
                    ["access_token"] = token,
                    ["expires_in"] = (int)TokenLifetime.TotalSeconds,
                    ["token_type"] = "Bearer",
                }).ConfigureAwait(false);
            }
            catch (OAuthError e)
            {
                await HttpUtil.WriteJsonAsync(context, e.Status, Error(e.Error, e.Message)).ConfigureAwait(false);
            }
        }

        private static JsonObject Error(string error, string description) =>
            new JsonObject { ["error"] = error, ["error_description"] = description };

        private string JwtBearer(string? assertion)
        {
            if (string.IsNullOrEmpty(assertion)) throw new OAuthError(400, "invalid_request", "Missing required parameter: assertion");
            var parts = assertion!.Split('.');
            if (parts.Length != 3) throw new OAuthError(400, "invalid_grant", "Invalid JWT: not a JWS compact serialization.");
            JsonObject header, claims;
            byte[] signature;
            try
            {
                header = JsonNode.Parse(Base64Url(parts[0])) as JsonObject ?? throw new FormatException();
                claims = JsonNode.Parse(Base64Url(parts[1])) as JsonObject ?? throw new FormatException();
                signature = Base64Url(parts[2]);
            }
            catch (Exception e) when (e is FormatException || e is JsonException)
            {
                throw new OAuthError(400, "invalid_grant", "Invalid JWT: the assertion could not be decoded.");
            }
            if (StringClaim(header, "alg") != "RS256") throw new OAuthError(400, "invalid_grant", "Invalid JWT: only RS256 is supported.");

            var iss = StringClaim(claims, "iss");
            var sub = StringClaim(claims, "sub");
            ServiceAccountRecord? account = null;
            if (iss != null) lock (_state.Gate) _state.ServiceAccounts.TryGetValue(iss, out account);
            _state.CountTokenRequest(account?.ClientId ?? iss ?? "(none)", sub);
            if (account == null) throw new OAuthError(400, "invalid_grant", "Invalid grant: account not found");

            using (var rsa = RSA.Create())
            {
                rsa.ImportParameters(account.Key);
                var signed = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
                if (!rsa.VerifyData(signed, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
                    throw new OAuthError(400, "invalid_grant", "Invalid JWT Signature.");
            }

            var aud = StringClaim(claims, "aud");
            var audiences = new[] { "https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token", _tokenUri().AbsoluteUri };
            if (aud == null || !audiences.Contains(aud, StringComparer.Ordinal))
                throw new OAuthError(400, "invalid_grant", "Invalid JWT: Failed audience check. The expected value is https://oauth2.googleapis.com/token.");

            var iat = LongClaim(claims, "iat");
            var exp = LongClaim(claims, "exp");
            var now = _state.Now.ToUnixTimeSeconds();
            var skew = (long)AllowedSkew.TotalSeconds;
            if (iat == null || exp == null || exp <= iat || exp - iat > MaxAssertionSeconds || iat > now + skew || exp < now - skew)
                throw new OAuthError(400, "invalid_grant",
                    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");

            var scope = StringClaim(claims, "scope");
            if (string.IsNullOrWhiteSpace(scope))
                throw new OAuthError(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.");
            var scopes = scope!.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            if (scopes.Any(s => !account.Scopes.Contains(s)) || (sub != null && !account.Subjects.Contains(sub) && !string.Equals(sub, account.ClientEmail, StringComparison.OrdinalIgnoreCase)))
                throw new OAuthError(400, "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.");

            var principal = sub ?? account.ClientEmail;
            var caller = new Caller(principal, sub, account.ClientId, true, new HashSet<string>(scopes, StringComparer.Ordinal));
            return _state.IssueAccessToken(caller, TokenLifetime);
        }

        private string RefreshToken(Dictionary<string, List<string>> form)
        {
            var clientId = HttpUtil.First(form, "client_id");
            var secret = HttpUtil.First(form, "client_secret");
            var refresh = HttpUtil.First(form, "refresh_token");
            _state.CountTokenRequest(clientId ?? "(none)", null);
            if (string.IsNullOrEmpty(refresh)) throw new OAuthError(400, "invalid_request", "Missing required parameter: refresh_token");
            UserRecord? user;
            lock (_state.Gate) _state.UsersByRefreshToken.TryGetValue(refresh!, out user);
            if (user == null) throw new OAuthError(400, "invalid_grant", "Bad Request");
            if (user.ClientId != clientId || user.ClientSecret != secret) throw new OAuthError(401, "invalid_client", "Unauthorized");
            var caller = new Caller(user.Email, null, user.ClientId, false, new HashSet<string>(EmulatorState.AllCalendarScopes, StringComparer.Ordinal));
            return _state.IssueAccessToken(caller, TokenLifetime);
        }

        private static string? StringClaim(JsonObject obj, string name) =>
            obj[name] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

        private static long? LongClaim(JsonObject obj, string name)
        {
            if (!(obj[name] is JsonValue v)) return null;
            if (v.TryGetValue(out long l)) return l;
            if (v.TryGetValue(out double d) && !double.IsNaN(d) && !double.IsInfinity(d)) return (long)d;
            return null;
        }

        private static byte[] Base64Url(string text)
        {
            var s = text.Replace('-', '+').Replace('_', '/');
            switch (s.Length % 4) { case 2: s += "=="; break; case 3: s += "="; break; case 1: throw new FormatException(); }
            return Convert.FromBase64String(s);
        }
    }
}
