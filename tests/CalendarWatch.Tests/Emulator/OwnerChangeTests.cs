using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    /// <summary>
    /// The emulator's own change methods (what Start-CalendarWatchEmulator's object calls): the same checks and the same
    /// notifications as the API, seen by a real receiver over HTTP; and the sink, a receiver on the emulator itself.
    /// </summary>
    public sealed class OwnerChangeTests
    {
        private const string Alice = EmulatorHarness.Alice;
        private static readonly TimeSpan Wait = EmulatorHarness.WaitTimeout;

        [Fact]
        public async Task EventChangesNotifyTheEventsChannelsOnly()
        {
            await using var h = await EmulatorHarness.StartAsync();
            await h.WatchEventsOkAsync(Alice, "own-events");
            using (var acl = await h.WatchAclAsync(Alice, h.Channel("own-acl"), h.AliceToken))
                await EmulatorHarness.ReadOkAsync(acl);
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 2, Wait));

            var id = h.Emulator.InsertEvent(Alice, "hello", "focusTime");
            Assert.Matches("^[0-9a-f]{32}$", id);
            h.Emulator.PatchEvent(Alice, id, summary: "moved");
            h.Emulator.DeleteEvent(Alice, id);

            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 5, Wait));
            var events = h.Receiver.ForChannel("own-events");
            Assert.Equal(new[] { "sync", "exists", "exists", "exists" }, events.Select(n => n.ResourceState).ToArray());
            Assert.Equal(new long[] { 1, 2, 3, 4 }, events.Select(n => n.MessageNumber).ToArray());
            Assert.Single(h.Receiver.ForChannel("own-acl"));
        }

        [Fact]
        public async Task AclChangesNotifyTheAclChannelsAndGrantVisibility()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var acl = await h.WatchAclAsync(Alice, h.Channel("own-acl-2"), h.AliceToken))
                await EmulatorHarness.ReadOkAsync(acl);

            Assert.Equal("user:bob@example.com", h.Emulator.InsertAclRule(Alice, "reader", "user", "bob@example.com"));
            Assert.Equal("default", h.Emulator.InsertAclRule(Alice, "freeBusyReader", "default"));
            h.Emulator.DeleteAclRule(Alice, "default");

            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 4, Wait));
            Assert.Equal(new[] { "sync", "exists", "exists", "exists" }, h.Receiver.ForChannel("own-acl-2").Select(n => n.ResourceState).ToArray());

            // The rule is real: bob now sees alice's calendar through the API.
            var bob = h.Emulator.IssueAccessToken("bob@example.com", new[] { EmulatorHarness.CalendarScope });
            using var watch = await h.WatchEventsAsync(Alice, EmulatorHarness.ChannelBody("bob-1", h.Receiver.Address), bearer: bob);
            await EmulatorHarness.ReadOkAsync(watch);
        }

        [Fact]
        public async Task WhatTheApiRefusesIsRefusedWithItsStatusAndReason()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.InsertEvent(Alice, eventId: "fixed");

            var duplicate = Assert.Throws<InvalidOperationException>(() => h.Emulator.InsertEvent(Alice, eventId: "fixed"));
            Assert.Contains("409 duplicate", duplicate.Message);
            Assert.Contains("'" + Alice + "'", duplicate.Message);
            Assert.Contains("400 invalid", Assert.Throws<InvalidOperationException>(() => h.Emulator.InsertEvent(Alice, eventType: "meeting")).Message);
            Assert.Contains("404 notFound", Assert.Throws<InvalidOperationException>(() => h.Emulator.PatchEvent(Alice, "nope", "x")).Message);
            h.Emulator.DeleteEvent(Alice, "fixed");
            Assert.Contains("410 deleted", Assert.Throws<InvalidOperationException>(() => h.Emulator.DeleteEvent(Alice, "fixed")).Message);
            Assert.Contains("Invalid role", Assert.Throws<InvalidOperationException>(() => h.Emulator.InsertAclRule(Alice, "boss", "user", "bob@example.com")).Message);
            Assert.Contains("scope.value", Assert.Throws<InvalidOperationException>(() => h.Emulator.InsertAclRule(Alice, "reader", "user")).Message);
            Assert.Contains("404 notFound", Assert.Throws<InvalidOperationException>(() => h.Emulator.DeleteAclRule(Alice, "user:nobody@example.com")).Message);

            var unknown = Assert.Throws<ArgumentException>(() => h.Emulator.InsertEvent("nobody@example.com"));
            Assert.Contains("no calendar 'nobody@example.com'", unknown.Message);
            Assert.Equal("calendarId", unknown.ParamName);
        }

        [Fact]
        public async Task TheSinkTakesNotificationsSoDeliveriesShowThemDelivered()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var sink = new Uri(h.Emulator.BaseUri, "emulator/v1/sink");
            using (var watch = await h.WatchEventsAsync(Alice, EmulatorHarness.ChannelBody("to-sink", sink), bearer: h.AliceToken))
                await EmulatorHarness.ReadOkAsync(watch);
            h.Emulator.InsertEvent(Alice, "x");

            Assert.True(await h.Emulator.WaitForDeliveriesAsync(d => d.Count(x => x.Outcome == "delivered") == 2, Wait));
            var deliveries = h.Emulator.Deliveries.Where(d => d.ChannelId == "to-sink").OrderBy(d => d.MessageNumber).ToList();
            Assert.Equal(new[] { "sync", "exists" }, deliveries.Select(d => d.ResourceState).ToArray());
            Assert.All(deliveries, d => { Assert.Equal(200, d.StatusCode); Assert.Equal(sink.AbsoluteUri, d.Address); });
            Assert.Empty(h.Receiver.Received);

            // Any client may post to it, with an empty body, and gets 200.
            using var post = await h.Http.PostAsync(sink, new ByteArrayContent(Array.Empty<byte>()));
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        }
    }
}
