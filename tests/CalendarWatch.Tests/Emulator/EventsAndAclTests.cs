using System;
using System.Net;
using System.Net.Http;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    public sealed class EventsAndAclTests
    {
        private const string Alice = EmulatorHarness.Alice;
        private const string Shared = "shared@group.calendar.google.com";

        [Fact]
        public async Task PatchAndDeleteOfUnknownOrDeletedEvents()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await h.SendAsync(HttpMethod.Patch, "calendars/primary/events/nope", new JsonObject(), h.AliceToken))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
            var ev = await h.InsertEventAsync("primary", new JsonObject { ["id"] = "abc123", ["summary"] = "s" });
            Assert.Equal("abc123", (string)ev["id"]!);
            Assert.Equal("default", (string)ev["eventType"]!);
            using (var r = await h.PostAsync("calendars/primary/events", new JsonObject { ["id"] = "abc123" }, h.AliceToken))
                Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
            using (var r = await h.SendAsync(HttpMethod.Delete, "calendars/primary/events/abc123", null, h.AliceToken))
                Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
            using (var r = await h.SendAsync(HttpMethod.Delete, "calendars/primary/events/abc123", null, h.AliceToken))
                Assert.Equal(HttpStatusCode.Gone, r.StatusCode);
            using (var r = await h.PostAsync("calendars/primary/events", new JsonObject { ["eventType"] = "party" }, h.AliceToken))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
        }

        [Fact]
        public async Task ReadersMayWatchButNotWriteWritersMayWriteOnlyOwnersChangeTheAcl()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.CreateCalendar(Shared, Alice);
            h.Emulator.CreateCalendar("bob@example.com", "bob@example.com");
            var bob = h.Emulator.IssueAccessToken("bob@example.com", new[] { EmulatorHarness.CalendarScope });
            var path = "calendars/" + EmulatorHarness.Segment(Shared);

            JsonObject Rule(string role) => new JsonObject { ["role"] = role, ["scope"] = new JsonObject { ["type"] = "user", ["value"] = "bob@example.com" } };
            using (var r = await h.PostAsync(path + "/acl", Rule("reader"), h.AliceToken)) await EmulatorHarness.ReadOkAsync(r);
            await h.WatchEventsOkAsync(Shared, "bob-watch", bearer: bob);
            using (var r = await h.PostAsync(path + "/events", new JsonObject(), bob))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 403, "requiredAccessLevel");

            using (var r = await h.PostAsync(path + "/acl", Rule("writer"), h.AliceToken)) await EmulatorHarness.ReadOkAsync(r);
            await h.InsertEventAsync(Shared, bearer: bob);
            using (var r = await h.PostAsync(path + "/acl", Rule("owner"), bob))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 403, "requiredAccessLevel");

            using (var r = await h.SendAsync(HttpMethod.Delete, path + "/acl/" + Uri.EscapeDataString("user:bob@example.com"), null, h.AliceToken))
                Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
            using (var r = await h.SendAsync(HttpMethod.Delete, path + "/acl/" + Uri.EscapeDataString("user:bob@example.com"), null, h.AliceToken))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
            using (var r = await h.WatchEventsAsync(Shared, h.Channel("bob-again"), bearer: bob))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
        }

        [Fact]
        public async Task AclInsertValidatesItsBody()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await h.PostAsync("calendars/primary/acl", new JsonObject { ["scope"] = new JsonObject { ["type"] = "default" } }, h.AliceToken))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "required");
            using (var r = await h.PostAsync("calendars/primary/acl", new JsonObject { ["role"] = "admin", ["scope"] = new JsonObject { ["type"] = "default" } }, h.AliceToken))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
            using (var r = await h.PostAsync("calendars/primary/acl", new JsonObject { ["role"] = "reader", ["scope"] = new JsonObject { ["type"] = "user" } }, h.AliceToken))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "required");
            using (var r = await h.PostAsync("calendars/primary/acl", new JsonObject { ["role"] = "reader", ["scope"] = new JsonObject { ["type"] = "default" } }, h.AliceToken))
                Assert.Equal("default", (string)(await EmulatorHarness.ReadOkAsync(r))["id"]!);
        }
    }
}
