using System;
using System.Linq;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    public sealed class WatchResponseTests
    {
        private const string Alice = EmulatorHarness.Alice;

        [Fact]
        public async Task ChannelResponseHasGooglesShapeWithExpirationAsString()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = await h.WatchEventsOkAsync(Alice, "shape-1", token: "tok-1");
            Assert.Equal("api#channel", (string)json["kind"]!);
            Assert.Equal("shape-1", (string)json["id"]!);
            Assert.False(string.IsNullOrEmpty((string)json["resourceId"]!));
            Assert.Equal("https://www.googleapis.com/calendar/v3/calendars/alice%40example.com/events?alt=json", (string)json["resourceUri"]!);
            Assert.Equal("tok-1", (string)json["token"]!);
            Assert.Equal(JsonValueKind.String, json["expiration"]!.GetValueKind());
            Assert.True(long.Parse((string)json["expiration"]!) > h.Emulator.Now.ToUnixTimeMilliseconds());
            Assert.Equal(new[] { "kind", "id", "resourceId", "resourceUri", "token", "expiration" }, json.Select(p => p.Key).ToArray());
        }

        [Fact]
        public async Task TokenIsAbsentWhenNotSet()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = await h.WatchEventsOkAsync(Alice, "shape-2");
            Assert.False(json.ContainsKey("token"));
        }

        [Fact]
        public async Task ResourceIdIsStablePerCollectionAndDiffersBetweenEventsAndAcl()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.CreateCalendar("other@group.calendar.google.com", Alice);
            var e1 = (string)(await h.WatchEventsOkAsync(Alice, "r1"))["resourceId"]!;
            var e2 = (string)(await h.WatchEventsOkAsync(Alice, "r2"))["resourceId"]!;
            var viaPrimary = (string)(await h.WatchEventsOkAsync("primary", "r3"))["resourceId"]!;
            using var aclResponse = await h.WatchAclAsync(Alice, h.Channel("r4"));
            var acl = (string)(await EmulatorHarness.ReadOkAsync(aclResponse))["resourceId"]!;
            var other = (string)(await h.WatchEventsOkAsync("other@group.calendar.google.com", "r5"))["resourceId"]!;
            Assert.Equal(e1, e2);
            Assert.Equal(e1, viaPrimary);
            Assert.NotEqual(e1, acl);
            Assert.NotEqual(e1, other);
        }

        [Fact]
        public async Task PrimaryIsTheCallersOwnCalendar()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = await h.WatchEventsOkAsync("primary", "prim");
            Assert.Equal("https://www.googleapis.com/calendar/v3/calendars/primary/events?alt=json", (string)json["resourceUri"]!);
            var channel = h.Emulator.Channels.Single();
            Assert.Equal(Alice, channel.CalendarId);
            Assert.Equal(Alice, channel.Owner);
            Assert.Equal("events", channel.Resource);
            Assert.Equal("active", channel.State);
        }

        [Fact]
        public async Task EventTypesAreAppendedToTheResourceUri()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = await h.WatchEventsOkAsync(Alice, "types", query: "eventTypes=default&eventTypes=focusTime");
            Assert.Equal("https://www.googleapis.com/calendar/v3/calendars/alice%40example.com/events?alt=json&eventTypes=default&eventTypes=focusTime",
                (string)json["resourceUri"]!);
            Assert.Equal(new[] { "default", "focusTime" }, h.Emulator.Channels.Single().EventTypes);
        }

        [Theory]
        [InlineData("team#1@group.calendar.google.com")]
        [InlineData("a+b@example.com")]
        [InlineData("slash/inside@group.calendar.google.com")]
        [InlineData("with space@group.calendar.google.com")]
        [InlineData("kalender-überall-日本@group.calendar.google.com")]
        [InlineData("%2F-literal@group.calendar.google.com")]
        public async Task PercentEncodedCalendarIdsRoundTrip(string id)
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.CreateCalendar(id, Alice);
            var json = await h.WatchEventsOkAsync(id, "enc");
            Assert.Equal("https://www.googleapis.com/calendar/v3/calendars/" + Uri.EscapeDataString(id) + "/events?alt=json", (string)json["resourceUri"]!);
            Assert.Equal(id, h.Emulator.Channels.Single().CalendarId);
            var ev = await h.InsertEventAsync(id);
            Assert.Equal("calendar#event", (string)ev["kind"]!);
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count(x => x.ChannelId == "enc") == 2, EmulatorHarness.WaitTimeout));
        }

        [Fact]
        public async Task CalendarListAndSettingsWatchesBelongToTheCaller()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r1 = await h.PostAsync("users/me/calendarList/watch", h.Channel("cl"), h.AliceToken);
            using var r2 = await h.PostAsync("users/me/settings/watch", h.Channel("st"), h.AliceToken);
            var cl = await EmulatorHarness.ReadOkAsync(r1);
            var st = await EmulatorHarness.ReadOkAsync(r2);
            Assert.Equal("https://www.googleapis.com/calendar/v3/users/me/calendarList?alt=json", (string)cl["resourceUri"]!);
            Assert.Equal("https://www.googleapis.com/calendar/v3/users/me/settings?alt=json", (string)st["resourceUri"]!);
            Assert.NotEqual((string)cl["resourceId"]!, (string)st["resourceId"]!);
            Assert.Equal(new[] { "calendarList", "settings" }, h.Emulator.Channels.Select(c => c.Resource).ToArray());
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 2, EmulatorHarness.WaitTimeout));
        }

        [Fact]
        public async Task UnknownPathIsNotFoundInGooglesEnvelope()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r = await h.PostAsync("calendars/primary/nothing/watch", h.Channel("x"), h.AliceToken);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
        }

        [Fact]
        public async Task PrettyPrintFalseGivesCompactJson()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r = await h.WatchEventsAsync(Alice, h.Channel("compact"), "prettyPrint=false");
            var text = await r.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.DoesNotContain("\n", text);
        }
    }

    public sealed class StopTests
    {
        private const string Alice = EmulatorHarness.Alice;

        [Fact]
        public async Task StopAnswers204WithAnEmptyBodyAndMarksTheChannelStopped()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = await h.WatchEventsOkAsync(Alice, "s1", token: "t");
            using var r = await h.PostAsync("channels/stop", new JsonObject { ["id"] = "s1", ["resourceId"] = (string)json["resourceId"]!, ["token"] = "t" }, h.AliceToken);
            Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
            Assert.Equal("", await r.Content.ReadAsStringAsync());
            Assert.Equal("stopped", h.Emulator.Channels.Single().State);
        }

        [Fact]
        public async Task UnknownIdWrongResourceIdAndSecondStopAreNotFound()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = await h.WatchEventsOkAsync(Alice, "s2");
            using (var r = await h.PostAsync("channels/stop", new JsonObject { ["id"] = "nope", ["resourceId"] = "x" }, h.AliceToken))
            {
                var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
                Assert.Equal("Channel 'nope' not found for project '123456789'", (string)error["message"]!);
            }
            using (var r = await h.PostAsync("channels/stop", new JsonObject { ["id"] = "s2", ["resourceId"] = "wrong" }, h.AliceToken))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
            await h.StopAsync("s2", (string)json["resourceId"]!);
            await h.StopAsync("s2", (string)json["resourceId"]!, expected: HttpStatusCode.NotFound);
        }

        [Fact]
        public async Task MissingIdIsRequired()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r = await h.PostAsync("channels/stop", new JsonObject { ["resourceId"] = "x" }, h.AliceToken);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "required");
        }

        [Fact]
        public async Task ProjectNumberAppearsInTheMessage()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.ProjectNumber = "42");
            using var r = await h.PostAsync("channels/stop", new JsonObject { ["id"] = "c", ["resourceId"] = "x" }, h.AliceToken);
            var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
            Assert.Equal("Channel 'c' not found for project '42'", (string)error["message"]!);
        }

        [Fact]
        public async Task AnotherUserCannotStopAUsersChannel()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.CreateCalendar("bob@example.com", "bob@example.com");
            var json = await h.WatchEventsOkAsync(Alice, "s3");
            var bob = h.Emulator.IssueAccessToken("bob@example.com", new[] { EmulatorHarness.CalendarScope });
            await h.StopAsync("s3", (string)json["resourceId"]!, bob, HttpStatusCode.NotFound);
            Assert.Equal("active", h.Emulator.Channels.Single().State);
        }

        [Fact]
        public async Task AnyPrincipalOfTheSameClientMayStopAServiceAccountsChannel()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var sa = new TestServiceAccount("robot@p.iam.gserviceaccount.com");
            h.Emulator.RegisterServiceAccount(sa.ClientEmail, sa.PublicKeyPem, new[] { Alice }, clientId: "client-1");
            var robot = h.Emulator.IssueAccessToken(sa.ClientEmail, new[] { EmulatorHarness.CalendarScope });
            var json = await h.WatchEventsOkAsync("primary", "sa-chan", bearer: robot);
            Assert.Equal(sa.ClientEmail, h.Emulator.Channels.Single().CalendarId);
            // A user of another client may not; the same client through an impersonated subject may.
            await h.StopAsync("sa-chan", (string)json["resourceId"]!, h.AliceToken, HttpStatusCode.NotFound);
            using var tokenResponse = await h.Http.PostAsync(h.Emulator.TokenUri, new System.Net.Http.FormUrlEncodedContent(new[]
            {
                new System.Collections.Generic.KeyValuePair<string, string>("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                new System.Collections.Generic.KeyValuePair<string, string>("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope, Alice)),
            }));
            var asAlice = (string)(await EmulatorHarness.ReadOkAsync(tokenResponse))["access_token"]!;
            await h.StopAsync("sa-chan", (string)json["resourceId"]!, asAlice);
        }
    }
}
