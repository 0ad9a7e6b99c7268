using System;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    public sealed class NotificationTests
    {
        private const string Alice = EmulatorHarness.Alice;
        private static readonly TimeSpan Wait = EmulatorHarness.WaitTimeout;

        [Fact]
        public async Task SyncThenExistsWithEveryHeader()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var channel = await h.WatchEventsOkAsync(Alice, "n-1", token: "secret-ish");
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 1, Wait));
            var ev = await h.InsertEventAsync(Alice);
            using (var patch = await h.SendAsync(HttpMethod.Patch, "calendars/" + EmulatorHarness.Segment(Alice) + "/events/" + (string)ev["id"]!, new JsonObject { ["summary"] = "y" }, h.AliceToken))
                await EmulatorHarness.ReadOkAsync(patch);
            using (var delete = await h.SendAsync(HttpMethod.Delete, "calendars/" + EmulatorHarness.Segment(Alice) + "/events/" + (string)ev["id"]!, null, h.AliceToken))
                Assert.Equal(System.Net.HttpStatusCode.NoContent, delete.StatusCode);
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 4, Wait));
            Assert.True(await h.Emulator.WaitForDeliveriesAsync(d => d.Count == 4 && d.All(x => x.Outcome == "delivered"), Wait));

            var received = h.Receiver.ForChannel("n-1");
            Assert.Equal(new[] { "sync", "exists", "exists", "exists" }, received.Select(n => n.ResourceState).ToArray());
            Assert.Equal(1, received[0].MessageNumber);
            for (int i = 1; i < received.Count; i++) Assert.True(received[i].MessageNumber > received[i - 1].MessageNumber);
            var expiration = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse((string)channel["expiration"]!));
            foreach (var n in received)
            {
                Assert.Equal("POST", n.Method);
                Assert.Equal("/hook", n.Path);
                Assert.Equal("", n.Body);
                Assert.Equal("n-1", n.Header("X-Goog-Channel-ID"));
                Assert.Equal((string)channel["resourceId"]!, n.Header("X-Goog-Resource-ID"));
                Assert.Equal((string)channel["resourceUri"]!, n.Header("X-Goog-Resource-URI"));
                Assert.Equal("secret-ish", n.Header("X-Goog-Channel-Token"));
                Assert.Equal(expiration.ToString("r", CultureInfo.InvariantCulture), n.Header("X-Goog-Channel-Expiration"));
                Assert.StartsWith("APIs-Google", n.Header("User-Agent"));
            }
            // The emulator's record agrees.
            var deliveries = h.Emulator.Deliveries.Where(d => d.ChannelId == "n-1").OrderBy(d => d.MessageNumber).ToList();
            Assert.Equal(4, deliveries.Count);
            Assert.All(deliveries, d => { Assert.Equal("delivered", d.Outcome); Assert.Equal(200, d.StatusCode); Assert.Equal(1, d.Attempts); });
            Assert.Equal(h.Receiver.Address.AbsoluteUri, deliveries[0].Address);
        }

        [Fact]
        public async Task NoTokenHeaderWhenNoTokenWasSet()
        {
            await using var h = await EmulatorHarness.StartAsync();
            await h.WatchEventsOkAsync(Alice, "n-2");
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 1, Wait));
            Assert.Null(h.Receiver.Received.Single().Header("X-Goog-Channel-Token"));
        }

        [Fact]
        public async Task AclChangesNotifyAclChannelsOnlyAndEventChangesEventChannelsOnly()
        {
            await using var h = await EmulatorHarness.StartAsync();
            await h.WatchEventsOkAsync(Alice, "ev");
            using (var r = await h.WatchAclAsync(Alice, h.Channel("acl")))
                await EmulatorHarness.ReadOkAsync(r);
            var rule = new JsonObject { ["role"] = "reader", ["scope"] = new JsonObject { ["type"] = "user", ["value"] = "bob@example.com" } };
            using (var r = await h.PostAsync("calendars/primary/acl", rule, h.AliceToken))
                Assert.Equal("user:bob@example.com", (string)(await EmulatorHarness.ReadOkAsync(r))["id"]!);
            using (var r = await h.SendAsync(HttpMethod.Delete, "calendars/primary/acl/" + Uri.EscapeDataString("user:bob@example.com"), null, h.AliceToken))
                Assert.Equal(System.Net.HttpStatusCode.NoContent, r.StatusCode);
            await h.InsertEventAsync("primary");
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 5, Wait));
            Assert.Equal(new[] { "sync", "exists", "exists" }, h.Receiver.ForChannel("acl").Select(n => n.ResourceState).ToArray());
            Assert.Equal(new[] { "sync", "exists" }, h.Receiver.ForChannel("ev").Select(n => n.ResourceState).ToArray());
        }

        [Fact]
        public async Task EventTypesFilterNotifications()
        {
            await using var h = await EmulatorHarness.StartAsync();
            await h.WatchEventsOkAsync(Alice, "focus-only", query: "eventTypes=focusTime");
            await h.WatchEventsOkAsync(Alice, "all");
            await h.InsertEventAsync(Alice, new JsonObject { ["summary"] = "meeting" });            // default
            await h.InsertEventAsync(Alice, new JsonObject { ["summary"] = "deep work", ["eventType"] = "focusTime" });
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 5, Wait));
            Assert.Equal(2, h.Receiver.ForChannel("focus-only").Count);
            Assert.Equal(3, h.Receiver.ForChannel("all").Count);
        }

        [Fact]
        public async Task NothingIsDeliveredAfterStop()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var stopped = await h.WatchEventsOkAsync(Alice, "stopped");
            await h.WatchEventsOkAsync(Alice, "witness");
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 2, Wait));
            await h.StopAsync("stopped", (string)stopped["resourceId"]!);
            await h.InsertEventAsync(Alice);
            // The witness channel proves the change was dispatched; the stopped one must have nothing new.
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count(x => x.ChannelId == "witness") == 2, Wait));
            Assert.True(await h.Emulator.WaitForDeliveriesAsync(d => d.All(x => x.Outcome != "pending"), Wait));
            Assert.Single(h.Receiver.ForChannel("stopped"));
            Assert.Single(h.Emulator.Deliveries, d => d.ChannelId == "stopped");
        }

        [Fact]
        public async Task NothingIsDeliveredAfterExpiryOnTheEmulatorClock()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var shortLived = h.Channel("short"); shortLived["params"] = new JsonObject { ["ttl"] = "60" };
            using (var r = await h.WatchEventsAsync(Alice, shortLived)) await EmulatorHarness.ReadOkAsync(r);
            var longLived = h.Channel("long"); longLived["params"] = new JsonObject { ["ttl"] = "86400" };
            using (var r = await h.WatchEventsAsync(Alice, longLived)) await EmulatorHarness.ReadOkAsync(r);
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 2, Wait));

            h.Emulator.AdvanceClock(TimeSpan.FromMinutes(2));
            Assert.Equal("expired", h.Emulator.Channels.Single(c => c.Id == "short").State);
            Assert.Equal("active", h.Emulator.Channels.Single(c => c.Id == "long").State);
            var token = h.Emulator.IssueAccessToken(Alice, new[] { EmulatorHarness.CalendarScope });
            await h.InsertEventAsync(Alice, bearer: token);
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count(x => x.ChannelId == "long") == 2, Wait));
            Assert.Single(h.Receiver.ForChannel("short"));

            // A later SetClock far ahead expires the other one too.
            h.Emulator.SetClock(h.Emulator.Now.AddDays(2));
            Assert.Equal("expired", h.Emulator.Channels.Single(c => c.Id == "long").State);
        }

        [Fact]
        public async Task Error503IsRetriedUntilDelivered()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.DeliveryMaxAttempts = 5);
            h.Receiver.EnqueueStatuses(503, 502);
            await h.WatchEventsOkAsync(Alice, "retry");
            Assert.True(await h.Emulator.WaitForDeliveriesAsync(d => d.Any(x => x.Outcome == "delivered"), Wait));
            var delivery = h.Emulator.Deliveries.Single();
            Assert.Equal(3, delivery.Attempts);
            Assert.Equal(200, delivery.StatusCode);
            Assert.Equal(new[] { 503, 502, 200 }, h.Receiver.Received.Select(n => n.AnsweredWith).ToArray());
            Assert.All(h.Receiver.Received, n => Assert.Equal(1, n.MessageNumber));
        }

        [Fact]
        public async Task RetriesStopAtTheBound()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.DeliveryMaxAttempts = 3);
            h.Receiver.DefaultStatus = 500;
            await h.WatchEventsOkAsync(Alice, "give-up");
            Assert.True(await h.Emulator.WaitForDeliveriesAsync(d => d.Any(x => x.Outcome == "gaveUp"), Wait));
            Assert.Equal(3, h.Emulator.Deliveries.Single().Attempts);
            Assert.Equal(3, h.Receiver.Received.Count);
        }

        [Theory]
        [InlineData(404)]
        [InlineData(410)]
        [InlineData(301)]
        public async Task OtherCodesFailWithoutRetry(int status)
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Receiver.DefaultStatus = status;
            await h.WatchEventsOkAsync(Alice, "fail");
            Assert.True(await h.Emulator.WaitForDeliveriesAsync(d => d.Any(x => x.Outcome == "failed"), Wait));
            var delivery = h.Emulator.Deliveries.Single();
            Assert.Equal(1, delivery.Attempts);
            Assert.Equal(status, delivery.StatusCode);
        }

        [Theory]
        [InlineData(201)]
        [InlineData(202)]
        [InlineData(204)]
        public async Task SuccessCodesCountAsDelivered(int status)
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Receiver.DefaultStatus = status;
            await h.WatchEventsOkAsync(Alice, "ok");
            Assert.True(await h.Emulator.WaitForDeliveriesAsync(d => d.Any(x => x.Outcome == "delivered"), Wait));
        }

        [Fact]
        public async Task AnUnreachableReceiverEndsGaveUpWithoutStatus()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.DeliveryMaxAttempts = 2);
            var dead = TestReceiver.Start();
            var address = dead.Address;
            await dead.DisposeAsync();
            using (var r = await h.WatchEventsAsync(Alice, EmulatorHarness.ChannelBody("dead", address))) await EmulatorHarness.ReadOkAsync(r);
            Assert.True(await h.Emulator.WaitForDeliveriesAsync(d => d.Any(x => x.Outcome == "gaveUp"), Wait));
            var delivery = h.Emulator.Deliveries.Single();
            Assert.Null(delivery.StatusCode);
            Assert.Equal(2, delivery.Attempts);
        }
    }
}
