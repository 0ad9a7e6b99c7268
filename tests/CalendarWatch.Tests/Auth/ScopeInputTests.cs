using System;
using System.Linq;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;
using Xunit;

namespace CalendarWatch.Tests.Auth
{
    /// <summary>
    /// Connect-CalendarWatch -Scope: only Google Calendar's scopes (the discovery document's, which the emulator also
    /// lists), given as full URLs or short names, one scope per value. No network call is made.
    /// </summary>
    public sealed class ScopeInputTests
    {
        [Fact]
        public void EveryCalendarScopeIsAcceptedByShortNameAndByFullUrl()
        {
            foreach (var scope in EmulatorState.AllCalendarScopes)
            {
                var shortName = scope.Substring(Scopes.Prefix.Length);
                Assert.Equal(new[] { scope }, ConnectionFactory.NormalizeScopeOverride(new[] { shortName }));
                Assert.Equal(new[] { scope }, ConnectionFactory.NormalizeScopeOverride(new[] { " " + scope + " " }));
            }
        }

        [Theory]
        [InlineData("calendar.event.readonly", "calendar.events.readonly")]
        [InlineData("calendar.acl.readonly", "calendar.acls.readonly")]
        [InlineData("Calendar.ReadOnly", "calendar.readonly")]
        [InlineData("calender", "calendar")]
        [InlineData("https://www.googleapis.com/auth/calendar.events.readonly/", "https://www.googleapis.com/auth/calendar.events.readonly")]
        [InlineData("http://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/calendar")]
        public void AMisspeltScopeIsRefusedSuggestingTheClosestCalendarScope(string given, string suggested)
        {
            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.NormalizeScopeOverride(new[] { "calendar.readonly", given }));

            Assert.Equal("CalendarWatch.InvalidScope", error.ErrorId);
            Assert.Equal(FailureKind.InvalidArgument, error.Kind);
            Assert.Contains($"'{given}'", error.Message);
            Assert.Contains($"Did you mean {suggested}?", error.Message);
        }

        [Theory]
        [InlineData("drive")]
        [InlineData("https://www.googleapis.com/auth/admin.directory.user.readonly")]
        [InlineData("https://mail.google.com/")]
        public void AScopeOfAnotherApiIsRefusedListingTheCalendarScopes(string given)
        {
            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.NormalizeScopeOverride(new[] { given }));

            Assert.Equal("CalendarWatch.InvalidScope", error.ErrorId);
            Assert.Contains($"'{given}' is not a Google Calendar scope", error.Message);
            Assert.Contains("calendar.events.readonly", error.Message);
            Assert.DoesNotContain("Did you mean", error.Message);
        }

        [Fact]
        public void AValueWithSpacesIsOneBadValueNamedAsGivenNotSplitIntoScopes()
        {
            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.NormalizeScopeOverride(new[] { "not a scope" }));

            Assert.Equal("CalendarWatch.InvalidScope", error.ErrorId);
            Assert.Contains("'not a scope'", error.Message);
            Assert.Contains("space", error.Message);
            Assert.DoesNotContain(Scopes.Prefix + "not", error.Message);
        }

        [Theory]
        [InlineData("calendar.readonly calendar.acls.readonly")]
        [InlineData("calendar.readonly,calendar.acls.readonly")]
        [InlineData("https://www.googleapis.com/auth/calendar.readonly, https://www.googleapis.com/auth/calendar.acls.readonly")]
        public void SeveralScopesInOneValueAreRefusedShowingHowToGiveThem(string given)
        {
            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.NormalizeScopeOverride(new[] { given }));

            Assert.Equal("CalendarWatch.InvalidScope", error.ErrorId);
            Assert.Contains($"'{given}'", error.Message);
            Assert.Contains("-Scope calendar.readonly, calendar.acls.readonly", error.Message);
        }

        [Fact]
        public void AKeyFileConnectionWithAMisspeltScopeIsRefusedBeforeAnyTokenIsAskedFor()
        {
            using var account = new TestServiceAccount("http://127.0.0.1:9/token");

            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.ConnectServiceAccount(account.WriteKeyFile(), "alice@example.com", new[] { "calendar.event.readonly" }, null));

            Assert.Equal("CalendarWatch.InvalidScope", error.ErrorId);
            Assert.Contains("Did you mean calendar.events.readonly?", error.Message);
        }

        [Fact]
        public void NoScopesMeansTheNarrowestPerMethod()
        {
            Assert.Null(ConnectionFactory.NormalizeScopeOverride(null));
            Assert.Null(ConnectionFactory.NormalizeScopeOverride(Array.Empty<string>()));
            Assert.Equal(new[] { Scopes.AclsReadonly, Scopes.EventsReadonly }, ConnectionFactory.NormalizeScopeOverride(new[] { "calendar.events.readonly", "calendar.acls.readonly", Scopes.EventsReadonly })!.ToArray());
        }
    }
}
