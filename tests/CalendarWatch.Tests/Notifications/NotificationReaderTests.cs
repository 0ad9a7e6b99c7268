using System;
using System.Collections.Generic;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Notifications;
using CalendarWatch.Engine.Store;
using CalendarWatch.Tests.Store;
using Xunit;

namespace CalendarWatch.Tests.Notifications
{
    /// <summary>
    /// The reader against a real channel record file: what a receiver answers and writes for Google's headers.
    /// (Receiving over HTTP from the emulator is covered by tests/Receive.Tests.ps1.)
    /// </summary>
    public sealed class NotificationReaderTests : IDisposable
    {
        private readonly StoreFolder _folder = new StoreFolder();

        public void Dispose() => _folder.Dispose();

        private static Func<string, IReadOnlyList<string>?> Headers(string channelId, string state = "exists", string number = "2", string? token = null, string resourceId = "resource-1",
            string uri = "https://www.googleapis.com/calendar/v3/calendars/room-1%40resource.calendar.google.com/events?alt=json")
        {
            var table = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase)
            {
                [NotificationReader.ChannelIdHeader] = new[] { channelId },
                [NotificationReader.MessageNumberHeader] = new[] { number },
                [NotificationReader.ResourceStateHeader] = new[] { state },
                [NotificationReader.ResourceIdHeader] = new[] { resourceId },
                [NotificationReader.ResourceUriHeader] = new[] { uri },
                [NotificationReader.ChannelExpirationHeader] = new[] { "Tue, 08 Dec 2026 10:00:00 GMT" },
            };
            if (token != null) table[NotificationReader.ChannelTokenHeader] = new[] { token };
            return name => table.TryGetValue(name, out var values) ? values : null;
        }

        [Theory]
        [InlineData("https://www.googleapis.com/calendar/v3/calendars/en.usa%23holiday%40group.v.calendar.google.com/events?alt=json", "en.usa#holiday@group.v.calendar.google.com", WatchResource.Events)]
        [InlineData("https://www.googleapis.com/calendar/v3/calendars/primary/acl?alt=json", "primary", WatchResource.Acl)]
        [InlineData("https://www.googleapis.com/calendar/v3/users/me/calendarList?alt=json", "me", WatchResource.CalendarList)]
        [InlineData("https://www.googleapis.com/calendar/v3/users/me/settings?alt=json", "me", WatchResource.Settings)]
        public void ReadsTheCalendarAndResourceFromTheUri(string uri, string calendarId, WatchResource resource)
        {
            Assert.True(NotificationReader.TryReadResourceUri(uri, out var calendar, out var what));
            Assert.Equal(calendarId, calendar);
            Assert.Equal(resource, what);
        }

        [Fact]
        public void MatchesARecordedChannelAndRefusesAnotherToken()
        {
            using var store = ChannelStore.Open(_folder.File());
            store.RecordPending(StoreData.Request("c1"), "robot@p.iam.gserviceaccount.com", null);
            store.MarkActive("c1", new Channel { Id = "c1", ResourceId = "resource-1", Expiration = DateTimeOffset.UtcNow.AddDays(7) });
            var reader = new NotificationReader(store, null);

            var good = reader.Read(Headers("c1", token: "token-c1"), DateTimeOffset.UtcNow);
            Assert.Equal(200, good.StatusCode);
            Assert.True(good.Notification!.TokenMatched);
            Assert.True(good.Notification.IsKnownChannel);
            Assert.Equal("room-1@resource.calendar.google.com", good.Notification.CalendarId);

            foreach (var wrong in new[] { "token-c2", null, "token-c1 " + "x" })
            {
                var refused = reader.Read(Headers("c1", token: wrong), DateTimeOffset.UtcNow);
                Assert.Equal(403, refused.StatusCode);
                Assert.Null(refused.Notification);
                Assert.Equal("CalendarWatch.ChannelTokenMismatch", refused.Error!.ErrorId);
                Assert.DoesNotContain("token-c1", refused.Error.Message, StringComparison.Ordinal);
            }
        }

        [Fact]
        public void TheSyncBeforeTheWatchAnswerMatchesThePendingChannelAndFillsItsResourceId()
        {
            using var store = ChannelStore.Open(_folder.File());
            store.RecordPending(StoreData.Request("c1"), null, null);
            var reader = new NotificationReader(store, null);

            var sync = reader.Read(Headers("c1", state: "sync", number: "1", token: "token-c1", resourceId: "resource-9"), DateTimeOffset.UtcNow);

            Assert.Equal(200, sync.StatusCode);
            Assert.Equal(ChannelState.Pending, sync.Notification!.ChannelState);
            Assert.Equal("resource-9", store.Get("c1")!.ResourceId);
            Assert.Equal(ChannelState.Pending, store.Get("c1")!.State);
        }

        [Fact]
        public void APredecessorsChangesAreDuplicatesOnceItsSuccessorDelivers()
        {
            using var store = ChannelStore.Open(_folder.File());
            store.RecordPending(StoreData.Request("old"), null, null);
            store.MarkActive("old", new Channel { Id = "old", ResourceId = "resource-1", Expiration = DateTimeOffset.UtcNow.AddDays(1) });
            var reader = new NotificationReader(store, null);
            Assert.False(reader.Read(Headers("old", token: "token-old"), DateTimeOffset.UtcNow).Notification!.IsDuplicate);

            // The successor is requested (Pending, Replaces old): not known to exist yet, so old's copy still counts.
            store.RecordPending(StoreData.Request("new"), null, null, replaces: "old");
            Assert.False(reader.Read(Headers("old", number: "3", token: "token-old"), DateTimeOffset.UtcNow).Notification!.IsDuplicate);

            // Its sync arrives: from now on old's copies are the duplicates, and the successor's are not.
            var sync = reader.Read(Headers("new", state: "sync", number: "1", token: "token-new"), DateTimeOffset.UtcNow).Notification!;
            Assert.Equal("old", sync.Replaces);
            var copy = reader.Read(Headers("old", number: "4", token: "token-old"), DateTimeOffset.UtcNow).Notification!;
            Assert.True(copy.IsDuplicate);
            Assert.Equal("new", copy.ReplacedBy);
            Assert.False(reader.Read(Headers("new", number: "2", token: "token-new"), DateTimeOffset.UtcNow).Notification!.IsDuplicate);
        }

        [Fact]
        public void MalformedHeadersNameEachProblem()
        {
            var reader = new NotificationReader(null, null);
            var verdict = reader.Read(Headers("c1", state: "changed", number: "0", uri: "not a uri"), DateTimeOffset.UtcNow);

            Assert.Equal(400, verdict.StatusCode);
            Assert.Equal("CalendarWatch.MalformedNotification", verdict.Error!.ErrorId);
            Assert.Contains("X-Goog-Message-Number '0'", verdict.Error.Message, StringComparison.Ordinal);
            Assert.Contains("X-Goog-Resource-State 'changed'", verdict.Error.Message, StringComparison.Ordinal);
            Assert.Contains("X-Goog-Resource-URI 'not a uri'", verdict.Error.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void UnknownChannelsAreAcceptedWithOneWarningAndTheDefaultTokenChecked()
        {
            using var store = ChannelStore.Open(_folder.File());
            var reader = new NotificationReader(store, "shared");

            var first = reader.Read(Headers("stranger", token: "shared"), DateTimeOffset.UtcNow);
            var second = reader.Read(Headers("stranger", number: "3", token: "shared"), DateTimeOffset.UtcNow);
            var wrong = reader.Read(Headers("stranger", number: "4", token: "other"), DateTimeOffset.UtcNow);

            Assert.Equal(200, first.StatusCode);
            Assert.False(first.Notification!.IsKnownChannel);
            Assert.True(first.Notification.TokenMatched);
            Assert.Contains("Stop-CalendarChannel -Id 'stranger'", first.Warning, StringComparison.Ordinal);
            Assert.Null(second.Warning);
            Assert.Equal(403, wrong.StatusCode);
        }
    }
}
