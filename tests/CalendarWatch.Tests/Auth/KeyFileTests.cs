using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;
using Xunit;

namespace CalendarWatch.Tests.Auth
{
    /// <summary>Loading key files: what a person sees for each bad file. None of these touches the network.</summary>
    public sealed class KeyFileTests
    {
        [Fact]
        public void AServiceAccountKeyLoadsWithItsIdentityAndTokenUri()
        {
            using var account = new TestServiceAccount("http://127.0.0.1:9/token");
            var key = ServiceAccountKey.Load(account.WriteKeyFile());

            Assert.Equal(account.ClientEmail, key.ClientEmail);
            Assert.Equal(account.ClientId, key.ClientId);
            Assert.Equal(account.PrivateKeyId, key.KeyId);
            Assert.Equal(new Uri("http://127.0.0.1:9/token"), key.TokenUri);
            AssertNoKeyMaterial(account, key.ToString());
        }

        [Fact]
        public void AKeyWithoutTokenUriUsesGooglesTokenEndpoint()
        {
            using var account = new TestServiceAccount(null);
            var json = account.KeyJson();
            json.Remove("token_uri");
            var key = ServiceAccountKey.Load(account.Write("key.json", json));
            Assert.Equal(new Uri(ServiceAccountKey.GoogleTokenUri), key.TokenUri);
        }

        [Theory]
        [InlineData("authorized_user", "-ApplicationDefault")]
        [InlineData("external_account", "GOOGLE_APPLICATION_CREDENTIALS")]
        [InlineData("impersonated_service_account", "-ApplicationDefault")]
        [InlineData("external_account_authorized_user", "-ApplicationDefault")]
        [InlineData("something_new", "service account")]
        public void OtherCredentialTypesAreRefusedNamingTheTypeTheFileAndWhatToDo(string type, string advice)
        {
            using var account = new TestServiceAccount("http://127.0.0.1:9/token");
            var json = account.KeyJson();
            json["type"] = type;
            var path = account.Write(type + ".json", json);

            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.ConnectServiceAccount(path, null, null, null));

            Assert.Equal("CalendarWatch.UnsupportedCredentialType", error.ErrorId);
            Assert.Equal(FailureKind.InvalidArgument, error.Kind);
            Assert.Contains("'" + type + "'", error.Message);
            Assert.Contains(path, error.Message);
            Assert.Contains(advice, error.Message);
            AssertNoKeyMaterial(account, error.Message, error.ToString());
        }

        [Fact]
        public void AMissingFileIsNamed()
        {
            var path = Path.Combine(Path.GetTempPath(), "cw-missing-" + Guid.NewGuid().ToString("N"), "key.json");
            var error = Assert.Throws<CalendarWatchException>(() => ServiceAccountKey.Load(path));
            Assert.Equal("CalendarWatch.KeyFileNotFound", error.ErrorId);
            Assert.Equal(FailureKind.ObjectNotFound, error.Kind);
            Assert.Contains(path, error.Message);
        }

        [Fact]
        public void TextThatIsNotJsonIsNamedWithoutQuotingIt()
        {
            using var account = new TestServiceAccount(null);
            // A PEM file given by mistake: the parser must not echo any of it.
            var path = account.Write("key.pem", account.PrivateKeyPem);
            var error = Assert.Throws<CalendarWatchException>(() => ServiceAccountKey.Load(path));
            Assert.Equal("CalendarWatch.InvalidKeyFile", error.ErrorId);
            Assert.Contains(path, error.Message);
            Assert.Contains("not valid JSON", error.Message);
            AssertNoKeyMaterial(account, error.Message, error.ToString());
        }

        [Theory]
        [InlineData("type", "\"type\"")]
        [InlineData("client_email", "client_email")]
        [InlineData("private_key", "private_key")]
        public void MissingFieldsAreNamed(string field, string expected)
        {
            using var account = new TestServiceAccount(null);
            var json = account.KeyJson();
            json.Remove(field);
            var path = account.Write("key.json", json);
            var error = Assert.Throws<CalendarWatchException>(() => ServiceAccountKey.Load(path));
            Assert.Equal("CalendarWatch.InvalidKeyFile", error.ErrorId);
            Assert.Contains(path, error.Message);
            Assert.Contains(expected, error.Message);
        }

        [Fact]
        public void AnUnreadablePrivateKeyIsRefusedWithoutQuotingIt()
        {
            using var account = new TestServiceAccount(null);
            var json = account.KeyJson();
            var broken = account.PrivateKeyPem.Substring(0, account.PrivateKeyPem.Length / 2) + "\n-----END PRIVATE KEY-----\n";
            json["private_key"] = broken;
            var path = account.Write("key.json", json);
            var error = Assert.Throws<CalendarWatchException>(() => ServiceAccountKey.Load(path));
            Assert.Equal("CalendarWatch.InvalidKeyFile", error.ErrorId);
            Assert.Contains("private_key", error.Message);
            Assert.Null(error.InnerException);
            AssertNoKeyMaterial(account, error.Message, error.ToString());
        }

        [Theory]
        [InlineData("http://tokens.example.com/token")]
        [InlineData("not a url")]
        [InlineData("file:///etc/passwd")]
        public void ATokenUriThatIsNotHttpsOrLoopbackIsRefused(string tokenUri)
        {
            using var account = new TestServiceAccount(tokenUri);
            var error = Assert.Throws<CalendarWatchException>(() => ServiceAccountKey.Load(account.WriteKeyFile()));
            Assert.Equal("CalendarWatch.InvalidKeyFile", error.ErrorId);
            Assert.Contains("token_uri", error.Message);
        }

        [Fact]
        public void TheConnectionShowsIdentitySubjectAndScopesButNoSecret()
        {
            using var account = new TestServiceAccount("http://127.0.0.1:9/token");
            using var connection = ConnectionFactory.ConnectServiceAccount(account.WriteKeyFile(), " alice@example.com ", new[] { "calendar.readonly", Scopes.EventsReadonly, "calendar.readonly" }, new Uri("http://127.0.0.1:9/"));

            Assert.Equal(ConnectionKind.ServiceAccount, connection.Kind);
            Assert.Equal(account.ClientEmail, connection.Account);
            Assert.Equal("alice@example.com", connection.DefaultSubject);
            Assert.Equal(new[] { Scopes.EventsReadonly, Scopes.CalendarReadonly }, connection.Scopes);
            Assert.True(connection.AllowsHttpAddresses);
            AssertNoKeyMaterial(account, connection.ToString(), connection.TokenSource.ToString() ?? string.Empty, connection.Account ?? string.Empty);
        }

        [Theory]
        [InlineData("alice")]
        [InlineData("alice @example.com")]
        [InlineData("@example.com")]
        public void ASubjectThatIsNotAnEmailIsRefused(string subject)
        {
            using var account = new TestServiceAccount("http://127.0.0.1:9/token");
            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.ConnectServiceAccount(account.WriteKeyFile(), subject, null, null));
            Assert.Equal("CalendarWatch.InvalidSubject", error.ErrorId);
            Assert.Contains(subject.Trim(), error.Message);
        }

        [Fact]
        public async Task APerItemSubjectThatIsNotAnEmailFailsOnlyThatItem()
        {
            using var account = new TestServiceAccount("http://127.0.0.1:9/token");
            using var connection = ConnectionFactory.ConnectServiceAccount(account.WriteKeyFile(), null, null, new Uri("http://127.0.0.1:9/"));
            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => connection.TokenSource.GetAccessTokenAsync("not-an-email", ApiMethod.EventsWatch.Narrowest, null, default));
            Assert.Equal("CalendarWatch.InvalidSubject", error.ErrorId);
        }

        [Fact]
        public void ScopesAreCompletedDeduplicatedAndSorted()
        {
            Assert.Equal(
                new[] { Scopes.AclsReadonly, Scopes.EventsReadonly },
                ScopeList.Normalize(new[] { "calendar.events.readonly", Scopes.AclsReadonly + " " + Scopes.EventsReadonly, " " }));
            Assert.Null(ConnectionFactory.NormalizeScopeOverride(Array.Empty<string>()));
            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.NormalizeScopeOverride(new[] { "http://www.googleapis.com/auth/calendar" }));
            Assert.Equal("CalendarWatch.InvalidScope", error.ErrorId);
        }

        [Theory]
        [InlineData("http://proxy.example.com/", "CalendarWatch.InsecureApiEndpoint")]
        [InlineData("ftp://127.0.0.1/", "CalendarWatch.InvalidApiEndpoint")]
        public void AnApiEndpointThatWouldExposeTokensIsRefused(string endpoint, string errorId)
        {
            using var account = new TestServiceAccount("http://127.0.0.1:9/token");
            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.ConnectServiceAccount(account.WriteKeyFile(), null, null, new Uri(endpoint)));
            Assert.Equal(errorId, error.ErrorId);
            Assert.Contains(endpoint, error.Message);
        }

        internal static void AssertNoKeyMaterial(TestServiceAccount account, params string[] texts)
        {
            foreach (var text in texts)
            {
                foreach (var fragment in account.PrivateKeyFragments)
                {
                    Assert.DoesNotContain(fragment, text, StringComparison.Ordinal);
                }
            }
        }
    }
}
