using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    public sealed class TokenEndpointTests
    {
        private const string Alice = EmulatorHarness.Alice;
        private const string JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";

        private static async Task<HttpResponseMessage> PostTokenAsync(EmulatorHarness h, params (string, string)[] form) =>
            await h.Http.PostAsync(h.Emulator.TokenUri, new FormUrlEncodedContent(form.Select(p => new KeyValuePair<string, string>(p.Item1, p.Item2))));

        private static async Task<JsonObject> AssertOAuthErrorAsync(HttpResponseMessage response, string error, int status = 400)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == status, "expected " + status + ", got " + (int)response.StatusCode + ": " + text);
            var json = (JsonObject)JsonNode.Parse(text)!;
            Assert.Equal(error, (string)json["error"]!);
            Assert.False(string.IsNullOrEmpty((string?)json["error_description"]));
            return json;
        }

        private static async Task<(EmulatorHarness, TestServiceAccount)> StartAsync(IEnumerable<string>? scopes = null)
        {
            var h = await EmulatorHarness.StartAsync();
            var sa = new TestServiceAccount("robot@project.iam.gserviceaccount.com");
            h.Emulator.RegisterServiceAccount(sa.ClientEmail, sa.PublicKeyPem, new[] { Alice }, scopes, clientId: "1234567890");
            return (h, sa);
        }

        [Fact]
        public async Task AValidAssertionGivesABearerTokenThatWorksForTheSubject()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope, Alice)));
            var json = await EmulatorHarness.ReadOkAsync(r);
            Assert.Equal("Bearer", (string)json["token_type"]!);
            Assert.Equal(3599, (int)json["expires_in"]!);
            var token = (string)json["access_token"]!;
            await h.WatchEventsOkAsync("primary", "via-sa", bearer: token);
            var channel = h.Emulator.Channels.Single();
            Assert.Equal(Alice, channel.Owner);
            Assert.Equal(Alice, channel.CalendarId);
            var stats = h.Emulator.Stats;
            Assert.Equal(1, stats.TokenRequestsByClient["1234567890"]);
            Assert.Equal(1, stats.TokenRequestsByClientAndSubject["1234567890"][Alice]);
        }

        [Theory]
        [InlineData("https://oauth2.googleapis.com/token")]
        [InlineData("https://www.googleapis.com/oauth2/v4/token")]
        [InlineData("own")]
        public async Task AcceptedAudiences(string audience)
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            var aud = audience == "own" ? h.Emulator.TokenUri.AbsoluteUri : audience;
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope, audience: aud)));
            await EmulatorHarness.ReadOkAsync(r);
        }

        [Fact]
        public async Task WithoutSubjectTheCallerIsTheServiceAccount()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope)));
            var token = (string)(await EmulatorHarness.ReadOkAsync(r))["access_token"]!;
            await h.WatchEventsOkAsync("primary", "sa-own", bearer: token);
            Assert.Equal(sa.ClientEmail, h.Emulator.Channels.Single().CalendarId);
            // ...and it does not see Alice's calendar.
            using var denied = await h.WatchEventsAsync(Alice, h.Channel("sa-alice"), bearer: token);
            await EmulatorHarness.AssertGoogleErrorAsync(denied, 404, "notFound");
        }

        [Fact]
        public async Task AForgedSignatureIsInvalidGrant()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            using var forger = RSA.Create(2048);
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope, Alice, signWith: forger)));
            var json = await AssertOAuthErrorAsync(r, "invalid_grant");
            Assert.Equal("Invalid JWT Signature.", (string)json["error_description"]!);
        }

        [Fact]
        public async Task ATamperedPayloadIsInvalidGrant()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            var parts = sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope, Alice).Split('.');
            var claims = (JsonObject)JsonNode.Parse(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Pad(parts[1]))))!;
            claims["sub"] = "mallory@example.com";
            var tampered = parts[0] + "." + TestServiceAccount.Base64Url(System.Text.Encoding.UTF8.GetBytes(claims.ToJsonString())) + "." + parts[2];
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", tampered));
            await AssertOAuthErrorAsync(r, "invalid_grant");
        }

        private static string Pad(string s) { s = s.Replace('-', '+').Replace('_', '/'); return s + new string('=', (4 - s.Length % 4) % 4); }

        [Fact]
        public async Task AnUnknownIssuerIsInvalidGrant()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope, issuer: "stranger@x.iam.gserviceaccount.com")));
            await AssertOAuthErrorAsync(r, "invalid_grant");
        }

        [Fact]
        public async Task AForeignSubjectIsUnauthorizedClient()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope, "ceo@example.com")));
            var json = await AssertOAuthErrorAsync(r, "unauthorized_client");
            Assert.Equal("Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
                (string)json["error_description"]!);
        }

        [Fact]
        public async Task AnUngrantedScopeIsUnauthorizedClient()
        {
            var (h, sa) = await StartAsync(new[] { "https://www.googleapis.com/auth/calendar.readonly" });
            await using var _ = h; using var __ = sa;
            using (var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope, Alice))))
                await AssertOAuthErrorAsync(r, "unauthorized_client");
            using (var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, "https://www.googleapis.com/auth/calendar.readonly", Alice))))
                await EmulatorHarness.ReadOkAsync(r);
        }

        [Fact]
        public async Task AMissingScopeIsRefused()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, null, Alice)));
            await AssertOAuthErrorAsync(r, "invalid_scope");
        }

        [Fact]
        public async Task AWrongAudienceIsInvalidGrant()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope, audience: "https://evil.example.com/token")));
            await AssertOAuthErrorAsync(r, "invalid_grant");
        }

        [Fact]
        public async Task ExpiredOrTooLongOrFutureAssertionsAreInvalidGrant()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            var now = h.Emulator.Now;
            var cases = new[]
            {
                sa.CreateAssertion(now, EmulatorHarness.CalendarScope, issuedAt: now.AddHours(-2)),                        // expired an hour ago
                sa.CreateAssertion(now, EmulatorHarness.CalendarScope, expires: now.AddHours(3)),                          // longer than 1 h
                sa.CreateAssertion(now, EmulatorHarness.CalendarScope, issuedAt: now.AddHours(1)),                         // issued in the future
            };
            foreach (var assertion in cases)
            {
                using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", assertion));
                await AssertOAuthErrorAsync(r, "invalid_grant");
            }
            // The emulator clock is what counts: an assertion made for a clock two days ahead works once the clock is there.
            var ahead = sa.CreateAssertion(now.AddDays(2), EmulatorHarness.CalendarScope);
            using (var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", ahead)))
                await AssertOAuthErrorAsync(r, "invalid_grant");
            h.Emulator.AdvanceClock(TimeSpan.FromDays(2));
            using (var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", ahead)))
                await EmulatorHarness.ReadOkAsync(r);
        }

        [Fact]
        public async Task GarbageAndUnknownGrantTypesAreRefused()
        {
            var (h, sa) = await StartAsync();
            await using var _ = h; using var __ = sa;
            using (var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", "not.a.jwt")))
                await AssertOAuthErrorAsync(r, "invalid_grant");
            using (var r = await PostTokenAsync(h, ("grant_type", "password")))
                await AssertOAuthErrorAsync(r, "unsupported_grant_type");
        }

        [Fact]
        public async Task ThePkcs1PemFormIsAcceptedToo()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var sa = new TestServiceAccount("pkcs1@project.iam.gserviceaccount.com");
            h.Emulator.RegisterServiceAccount(sa.ClientEmail, sa.Key.ExportRSAPublicKeyPem(), Array.Empty<string>());
            using var r = await PostTokenAsync(h, ("grant_type", JwtBearer), ("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope)));
            await EmulatorHarness.ReadOkAsync(r);
            Assert.Throws<ArgumentException>(() => h.Emulator.RegisterServiceAccount("bad@x", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", Array.Empty<string>()));
        }

        [Fact]
        public async Task RefreshTokenGrantForRegisteredUsers()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.RegisterUser("carol@example.com", "web-client", "s3cret", "1//refresh");
            using (var r = await PostTokenAsync(h, ("grant_type", "refresh_token"), ("client_id", "web-client"), ("client_secret", "s3cret"), ("refresh_token", "1//refresh")))
            {
                var token = (string)(await EmulatorHarness.ReadOkAsync(r))["access_token"]!;
                await h.WatchEventsOkAsync("primary", "carol", bearer: token);
                Assert.Equal("carol@example.com", h.Emulator.Channels.Single().CalendarId);
            }
            using (var r = await PostTokenAsync(h, ("grant_type", "refresh_token"), ("client_id", "web-client"), ("client_secret", "wrong"), ("refresh_token", "1//refresh")))
                await AssertOAuthErrorAsync(r, "invalid_client", 401);
            using (var r = await PostTokenAsync(h, ("grant_type", "refresh_token"), ("client_id", "web-client"), ("client_secret", "s3cret"), ("refresh_token", "unknown")))
                await AssertOAuthErrorAsync(r, "invalid_grant");
            Assert.Equal(3, h.Emulator.Stats.TokenRequestsByClient["web-client"]);
        }
    }

    public sealed class BearerTests
    {
        private const string Alice = EmulatorHarness.Alice;

        [Fact]
        public async Task NoCredentialIs401()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r = await h.PostAsync("calendars/primary/events/watch", h.Channel("n1"), bearer: null);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 401, "required");
            Assert.NotNull(r.Headers.WwwAuthenticate.FirstOrDefault());
        }

        [Fact]
        public async Task UnknownTokenIs401AuthError()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r = await h.PostAsync("calendars/primary/events/watch", h.Channel("n2"), "ya29.forged");
            var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 401, "authError", domain: "global");
            Assert.StartsWith("Request had invalid authentication credentials.", (string)error["message"]!);
        }

        [Fact]
        public async Task ExpiredTokenIs401AuthErrorOnTheEmulatorClock()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var token = h.Emulator.IssueAccessToken(Alice, new[] { EmulatorHarness.CalendarScope }, TimeSpan.FromMinutes(5));
            await h.WatchEventsOkAsync("primary", "before", bearer: token);
            h.Emulator.AdvanceClock(TimeSpan.FromMinutes(6));
            using var r = await h.PostAsync("calendars/primary/events/watch", h.Channel("after"), token);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 401, "authError");
        }

        [Fact]
        public async Task TheAccessTokenIsAlsoAcceptedAsOauthTokenParameter()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r = await h.PostAsync("calendars/primary/events/watch?oauth_token=" + Uri.EscapeDataString(h.AliceToken), h.Channel("qp"), bearer: null);
            await EmulatorHarness.ReadOkAsync(r);
        }

        [Theory]
        [InlineData("calendars/primary/events/watch", "https://www.googleapis.com/auth/calendar.acls", "https://www.googleapis.com/auth/calendar.events.readonly")]
        [InlineData("calendars/primary/acl/watch", "https://www.googleapis.com/auth/calendar.events", "https://www.googleapis.com/auth/calendar.acls.readonly")]
        [InlineData("users/me/calendarList/watch", "https://www.googleapis.com/auth/calendar.settings.readonly", "https://www.googleapis.com/auth/calendar.calendarlist.readonly")]
        [InlineData("users/me/settings/watch", "https://www.googleapis.com/auth/calendar.events", "https://www.googleapis.com/auth/calendar.settings.readonly")]
        public async Task ScopesComeFromTheDiscoveryDocument(string path, string wrongScope, string rightScope)
        {
            await using var h = await EmulatorHarness.StartAsync();
            var wrong = h.Emulator.IssueAccessToken(Alice, new[] { wrongScope });
            using (var r = await h.PostAsync(path, h.Channel("sc1"), wrong))
            {
                var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 403, "insufficientPermissions");
                Assert.Equal("Request had insufficient authentication scopes.", (string)error["message"]!);
            }
            var right = h.Emulator.IssueAccessToken(Alice, new[] { rightScope });
            using (var r = await h.PostAsync(path, h.Channel("sc2"), right))
                await EmulatorHarness.ReadOkAsync(r);
        }

        [Fact]
        public async Task StopAcceptsAnyCalendarScopeButNotOthers()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = await h.WatchEventsOkAsync("primary", "stop-scope");
            var foreign = h.Emulator.IssueAccessToken(Alice, new[] { "https://www.googleapis.com/auth/drive" });
            using (var r = await h.PostAsync("channels/stop", new JsonObject { ["id"] = "stop-scope", ["resourceId"] = (string)json["resourceId"]! }, foreign))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 403, "insufficientPermissions");
            var settings = h.Emulator.IssueAccessToken(Alice, new[] { "https://www.googleapis.com/auth/calendar.settings.readonly" });
            await h.StopAsync("stop-scope", (string)json["resourceId"]!, settings);
        }

        [Fact]
        public async Task NoAuthAcceptsAnythingAndTheCallerIsUserAtExampleCom()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.NoAuth = true);
            using (var r = await h.PostAsync("calendars/primary/events/watch", h.Channel("na1"), bearer: null))
                await EmulatorHarness.ReadOkAsync(r);
            using (var r = await h.PostAsync("calendars/primary/events/watch", h.Channel("na2"), bearer: "anything"))
                await EmulatorHarness.ReadOkAsync(r);
            Assert.All(h.Emulator.Channels, c => { Assert.Equal("user@example.com", c.CalendarId); Assert.Equal("user@example.com", c.Owner); });
        }
    }
}
