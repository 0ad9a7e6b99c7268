using System;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    public sealed class WatchValidationTests
    {
        private const string Alice = EmulatorHarness.Alice;

        [Fact]
        public async Task MissingIdIsRequired()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var body = h.Channel("x"); body.Remove("id");
            using var r = await h.WatchEventsAsync(Alice, body);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "required", domain: "global");
        }

        [Fact]
        public async Task IdLongerThan64IsInvalidAnd64IsAccepted()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await h.WatchEventsAsync(Alice, h.Channel(new string('a', 65))))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
            await h.WatchEventsOkAsync(Alice, new string('a', 64));
        }

        [Fact]
        public async Task ChannelIdIsUniqueForeverEvenAfterStop()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var channel = await h.WatchEventsOkAsync(Alice, "dup");
            using (var r = await h.WatchEventsAsync(Alice, h.Channel("dup")))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "channelIdNotUnique");
            await h.StopAsync("dup", (string)channel["resourceId"]!);
            using (var r = await h.WatchAclAsync(Alice, h.Channel("dup")))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "channelIdNotUnique");
        }

        [Theory]
        [InlineData(null, "required")]
        [InlineData("", "required")]
        [InlineData("email", "invalid")]
        public async Task TypeMustBeWebHook(string? type, string reason)
        {
            await using var h = await EmulatorHarness.StartAsync();
            var body = h.Channel("t1");
            if (type == null) body.Remove("type"); else body["type"] = type;
            using var r = await h.WatchEventsAsync(Alice, body);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, reason);
        }

        [Theory]
        [InlineData("web_hook")]
        [InlineData("webhook")]
        public async Task BothTypeSpellingsAreAccepted(string type)
        {
            await using var h = await EmulatorHarness.StartAsync();
            var body = h.Channel("t2"); body["type"] = type;
            using var r = await h.WatchEventsAsync(Alice, body);
            await EmulatorHarness.ReadOkAsync(r);
        }

        [Fact]
        public async Task MissingAddressIsRequired()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var body = h.Channel("a1"); body.Remove("address");
            using var r = await h.WatchEventsAsync(Alice, body);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "required");
        }

        [Fact]
        public async Task HttpAddressIsRefusedWithoutAllowHttpWithGooglesMessage()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.AllowHttp = false);
            using var r = await h.WatchEventsAsync(Alice, h.Channel("a2"));
            var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
            Assert.Equal("WebHook callback must be HTTPS: " + h.Receiver.Address.AbsoluteUri, (string)error["message"]!);
            Assert.Empty(h.Emulator.Channels);
        }

        [Fact]
        public async Task HttpsAddressIsAcceptedWithoutAllowHttp()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.AllowHttp = false);
            var body = EmulatorHarness.ChannelBody("a3", new Uri("https://127.0.0.1:1/hook"));
            using var r = await h.WatchEventsAsync(Alice, body);
            await EmulatorHarness.ReadOkAsync(r);
        }

        [Theory]
        [InlineData("ftp://example.com/hook")]
        [InlineData("not a url")]
        public async Task NonHttpAddressIsInvalidEvenWithAllowHttp(string address)
        {
            await using var h = await EmulatorHarness.StartAsync();
            var body = h.Channel("a4"); body["address"] = address;
            using var r = await h.WatchEventsAsync(Alice, body);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
        }

        [Fact]
        public async Task TokenLongerThan256IsInvalid()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await h.WatchEventsAsync(Alice, h.Channel("k1", new string('t', 257))))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
            await h.WatchEventsOkAsync(Alice, "k2", new string('t', 256));
        }

        [Theory]
        [InlineData("\"abc\"")]
        [InlineData("\"0\"")]
        [InlineData("\"-5\"")]
        [InlineData("\"1.5\"")]
        [InlineData("{}")]
        public async Task InvalidTtlIsPushInvalidTtl(string ttlJson)
        {
            await using var h = await EmulatorHarness.StartAsync();
            var body = h.Channel("ttl"); body["params"] = new JsonObject { ["ttl"] = JsonNode.Parse(ttlJson) };
            using var r = await h.WatchEventsAsync(Alice, body);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "pushInvalidTtl");
        }

        [Fact]
        public async Task PastOrGarbageExpirationIsPushInvalidTtl()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var past = h.Emulator.Now.AddMinutes(-1).ToUnixTimeMilliseconds();
            foreach (var (id, value) in new (string, JsonNode)[] { ("e1", JsonValue.Create(past.ToString())), ("e2", JsonValue.Create(past)), ("e3", JsonValue.Create("soon")) })
            {
                var body = h.Channel(id); body["expiration"] = value;
                using var r = await h.WatchEventsAsync(Alice, body);
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "pushInvalidTtl");
            }
        }

        [Fact]
        public async Task TtlSecondsSetTheExpiration()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.SetClock(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
            var token = h.Emulator.IssueAccessToken(Alice, new[] { EmulatorHarness.CalendarScope }); // Alice's first token expired with the jump
            var body = h.Channel("ttl-ok"); body["params"] = new JsonObject { ["ttl"] = "3600" };
            using var r = await h.WatchEventsAsync(Alice, body, bearer: token);
            var json = await EmulatorHarness.ReadOkAsync(r);
            var expiration = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse((string)json["expiration"]!));
            Assert.InRange(expiration - h.Emulator.Now, TimeSpan.FromMinutes(55), TimeSpan.FromMinutes(61));
        }

        [Fact]
        public async Task ExpirationIsReadAsStringOrNumber()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var wanted = h.Emulator.Now.AddHours(2).ToUnixTimeMilliseconds();
            var b1 = h.Channel("x1"); b1["expiration"] = wanted.ToString();
            var b2 = h.Channel("x2"); b2["expiration"] = wanted;
            using var r1 = await h.WatchEventsAsync(Alice, b1);
            using var r2 = await h.WatchEventsAsync(Alice, b2);
            Assert.Equal(wanted.ToString(), (string)(await EmulatorHarness.ReadOkAsync(r1))["expiration"]!);
            Assert.Equal(wanted.ToString(), (string)(await EmulatorHarness.ReadOkAsync(r2))["expiration"]!);
        }

        [Fact]
        public async Task DefaultLifetimeIsSevenDays()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var json = await h.WatchEventsOkAsync(Alice, "default-ttl");
            var expiration = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse((string)json["expiration"]!));
            Assert.InRange(expiration - h.Emulator.Now, TimeSpan.FromDays(7) - TimeSpan.FromMinutes(5), TimeSpan.FromDays(7));
        }

        [Fact]
        public async Task LongerThanMaximumIsSilentlyShortened()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.MaxChannelLifetime = TimeSpan.FromDays(1));
            var body = h.Channel("long"); body["params"] = new JsonObject { ["ttl"] = (30 * 86400).ToString() };
            using var r = await h.WatchEventsAsync(Alice, body);
            var json = await EmulatorHarness.ReadOkAsync(r);
            var expiration = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse((string)json["expiration"]!));
            Assert.InRange(expiration - h.Emulator.Now, TimeSpan.FromDays(1) - TimeSpan.FromMinutes(5), TimeSpan.FromDays(1));
        }

        [Fact]
        public async Task UnknownCalendarIsNotFound()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r = await h.WatchEventsAsync("nobody@example.com", h.Channel("nf"));
            await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
        }

        [Fact]
        public async Task SomeoneElsesCalendarIsNotFoundUntilSharedByAcl()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.CreateCalendar("team@group.calendar.google.com", "bob@example.com");
            using (var r = await h.WatchEventsAsync("team@group.calendar.google.com", h.Channel("inv1")))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
            var bob = h.Emulator.IssueAccessToken("bob@example.com", new[] { EmulatorHarness.CalendarScope });
            var rule = new JsonObject { ["role"] = "reader", ["scope"] = new JsonObject { ["type"] = "user", ["value"] = Alice } };
            using (var r = await h.PostAsync("calendars/" + EmulatorHarness.Segment("team@group.calendar.google.com") + "/acl", rule, bob))
                await EmulatorHarness.ReadOkAsync(r);
            await h.WatchEventsOkAsync("team@group.calendar.google.com", "inv2");
        }

        [Theory]
        [InlineData("en.usa#holiday@group.v.calendar.google.com")]
        [InlineData("addressbook#contacts@group.v.calendar.google.com")]
        public async Task HolidayAndContactsCalendarsCannotBeWatchedWithoutExisting(string id)
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await h.WatchEventsAsync(id, h.Channel("hol1")))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "pushNotSupportedForRequestedResource");
            using (var r = await h.WatchAclAsync(id, h.Channel("hol2")))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "pushNotSupportedForRequestedResource");
        }

        [Fact]
        public async Task UnwatchableCalendarIsRefused()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.CreateCalendar("generated@group.calendar.google.com", Alice, watchable: false);
            using var r = await h.WatchEventsAsync("generated@group.calendar.google.com", h.Channel("uw"));
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "pushNotSupportedForRequestedResource");
        }

        [Fact]
        public async Task EventTypesOutsideTheEnumAreInvalid()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await h.WatchEventsAsync(Alice, h.Channel("et1"), "eventTypes=default&eventTypes=meeting"))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
            foreach (var t in new[] { "birthday", "default", "focusTime", "fromGmail", "outOfOffice", "workingLocation" })
                await h.WatchEventsOkAsync(Alice, "et-" + t, query: "eventTypes=" + t);
        }

        [Fact]
        public async Task StandardAndListParametersAreAcceptedUnknownOnesAreNot()
        {
            await using var h = await EmulatorHarness.StartAsync();
            await h.WatchEventsOkAsync(Alice, "p1", query: "alt=json&fields=id%2Cexpiration&prettyPrint=false&quotaUser=u1&key=k&userIp=1.2.3.4&singleEvents=true&showDeleted=false&timeZone=UTC");
            using var r = await h.WatchEventsAsync(Alice, h.Channel("p2"), "eventType=default");
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
        }

        [Fact]
        public async Task MalformedJsonIsAParseError()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var request = new HttpRequestMessage(HttpMethod.Post, h.ApiUri("calendars/primary/events/watch"));
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", h.AliceToken);
            request.Content = new StringContent("{\"id\":", Encoding.UTF8, "application/json");
            using var r = await h.Http.SendAsync(request);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "parseError");
        }
    }
}
