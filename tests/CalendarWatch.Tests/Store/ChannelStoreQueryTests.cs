using System;
using System.Collections.Generic;
using System.Linq;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;
using Xunit;

namespace CalendarWatch.Tests.Store
{
    /// <summary>What Query streams for each filter, and FindResourceId.</summary>
    public sealed class ChannelStoreQueryTests : IDisposable
    {
        private const string RoomA = "room-a@resource.calendar.google.com";
        private const string RoomB = "room-b@resource.calendar.google.com";
        private readonly TempStore _temp = new TempStore();

        public ChannelStoreQueryTests()
        {
            // One channel per state on room A, a few on room B, ACL and own-calendar ones.
            Active("a-active-1d", RoomA, TimeSpan.FromDays(1), subject: "alice@example.com");
            Active("a-active-6d", RoomA, TimeSpan.FromDays(6), subject: "bob@example.com");
            Active("a-expired", RoomA, TimeSpan.FromHours(1));
            _temp.Store.RecordPending(StoreData.Request("a-pending", RoomA), "sa@example.com", null);
            _temp.Store.RecordPending(StoreData.Request("a-mayexist", RoomA), "sa@example.com", null);
            _temp.Store.MarkMayExist("a-mayexist", "timeout");
            _temp.Store.RecordPending(StoreData.Request("a-failed", RoomA), "sa@example.com", null);
            _temp.Store.MarkFailed("a-failed", "400");
            Active("a-stopped", RoomA, TimeSpan.FromDays(2));
            _temp.Store.MarkStopped("a-stopped");
            Active("a-replaced", RoomA, TimeSpan.FromDays(2));
            _temp.Store.MarkReplaced("a-replaced", "a-active-6d");
            Active("b-active-2d", RoomB, TimeSpan.FromDays(2), subject: "alice@example.com");
            Active("b-acl", RoomB, TimeSpan.FromDays(2), resource: WatchResource.Acl);
            Active("me-list", "ignored", TimeSpan.FromDays(2), resource: WatchResource.CalendarList, account: "other@example.com");

            // Everything above was written at Start; the expired one lapsed an hour later.
            _temp.Clock.Now = StoreData.Start.AddHours(2);
        }

        public void Dispose() => _temp.Dispose();

        private void Active(string id, string calendar, TimeSpan lifetime, string? subject = null, WatchResource resource = WatchResource.Events, string account = "sa@example.com")
        {
            _temp.Store.RecordPending(StoreData.Request(id, calendar, resource, subject), account, null);
            _temp.Store.MarkActive(id, StoreData.Granted(id, StoreData.Start + lifetime, "res-" + (resource == WatchResource.CalendarList ? account : calendar) + "-" + resource));
        }

        private List<string> Ids(ChannelQuery? query = null) => _temp.Store.Query(query).Select(r => r.ChannelId).ToList();

        [Fact]
        public void TheDefaultViewIsTheLiveChannelsOldestFirst()
        {
            Assert.Equal(new[] { "a-active-1d", "a-active-6d", "a-pending", "a-mayexist", "b-active-2d", "b-acl", "me-list" }, Ids());
            Assert.All(_temp.Store.Query(), r => Assert.True(r.IsLive));
        }

        [Fact]
        public void AllStatesListsEveryRowWithExpiredDerived()
        {
            var all = _temp.Store.Query(new ChannelQuery { AllStates = true }).ToDictionary(r => r.ChannelId, r => r.State);
            Assert.Equal(11, all.Count);
            Assert.Equal(ChannelState.Expired, all["a-expired"]);
            Assert.Equal(ChannelState.Failed, all["a-failed"]);
            Assert.Equal(ChannelState.Stopped, all["a-stopped"]);
            Assert.Equal(ChannelState.Replaced, all["a-replaced"]);
            Assert.Equal(ChannelState.MayExist, all["a-mayexist"]);
            Assert.Equal(ChannelState.Pending, all["a-pending"]);
        }

        [Fact]
        public void StatesSelectStoredAndDerivedStates()
        {
            Assert.Equal(new[] { "a-expired" }, Ids(new ChannelQuery { States = new[] { ChannelState.Expired } }));
            Assert.Equal(new[] { "a-active-1d", "a-active-6d", "b-active-2d", "b-acl", "me-list" }, Ids(new ChannelQuery { States = new[] { ChannelState.Active } }));
            Assert.Equal(new[] { "a-active-1d", "a-active-6d", "a-expired", "b-active-2d", "b-acl", "me-list" }, Ids(new ChannelQuery { States = new[] { ChannelState.Expired, ChannelState.Active } }));
            Assert.Equal(new[] { "a-failed", "a-stopped" }, Ids(new ChannelQuery { States = new[] { ChannelState.Stopped, ChannelState.Failed } }));
            Assert.Equal(new[] { "a-replaced" }, Ids(new ChannelQuery { States = new[] { ChannelState.Replaced } }));
        }

        [Fact]
        public void CalendarResourceSubjectAndAccountFilter()
        {
            Assert.Equal(new[] { "b-active-2d", "b-acl" }, Ids(new ChannelQuery { CalendarId = RoomB }));
            Assert.Equal(new[] { "b-active-2d", "b-acl" }, Ids(new ChannelQuery { CalendarId = RoomB.ToUpperInvariant() }));
            Assert.Equal(new[] { "b-acl" }, Ids(new ChannelQuery { Resource = WatchResource.Acl }));
            Assert.Equal(new[] { "me-list" }, Ids(new ChannelQuery { CalendarId = "me", Resource = WatchResource.CalendarList }));
            Assert.Equal(new[] { "a-active-1d", "b-active-2d" }, Ids(new ChannelQuery { Subject = "Alice@Example.com" }));
            Assert.Equal(new[] { "me-list" }, Ids(new ChannelQuery { Account = "other@example.com" }));
            Assert.Empty(Ids(new ChannelQuery { CalendarId = "nobody@example.com" }));
        }

        [Fact]
        public void ExpiringWithinSelectsWhatToRenew()
        {
            // Now is Start + 2 h: within a day lapses a-active-1d (Start + 1 d); within 3 days adds the 2-day ones.
            Assert.Equal(new[] { "a-active-1d" }, Ids(new ChannelQuery { ExpiringWithin = TimeSpan.FromDays(1) }));
            Assert.Equal(new[] { "a-active-1d", "b-active-2d", "b-acl", "me-list" }, Ids(new ChannelQuery { ExpiringWithin = TimeSpan.FromDays(3) }));

            // Combined as the renewal filter is: calendar + state + expiring.
            Assert.Equal(new[] { "a-active-1d" }, Ids(new ChannelQuery { CalendarId = RoomA, States = new[] { ChannelState.Active }, ExpiringWithin = TimeSpan.FromDays(3) }));

            // Stopped and replaced channels have an expiration but are not live: only asked for, they show.
            Assert.Equal(new[] { "a-stopped", "a-replaced" }, Ids(new ChannelQuery { States = new[] { ChannelState.Stopped, ChannelState.Replaced }, ExpiringWithin = TimeSpan.FromDays(3) }));
        }

        [Fact]
        public void NowCanBeGivenAndMovesExpiry()
        {
            var later = StoreData.Start.AddDays(1).AddMinutes(1);
            Assert.Equal(new[] { "a-active-6d", "a-pending", "a-mayexist", "b-active-2d", "b-acl", "me-list" }, Ids(new ChannelQuery { Now = later }));
            _temp.Clock.Now = later;
            Assert.Equal(ChannelState.Expired, _temp.Store.Get("a-active-1d")!.State);
            Assert.Contains("a-active-1d", Ids(new ChannelQuery { States = new[] { ChannelState.Expired } }));
        }

        [Fact]
        public void QueryIsLazyAndStreams()
        {
            var query = _temp.Store.Query(new ChannelQuery { AllStates = true });
            Assert.IsNotType<List<ChannelRecord>>(query);
            Assert.IsNotType<ChannelRecord[]>(query);

            // Rows written after the query was made but before it runs are seen: nothing was read early.
            _temp.Store.RecordPending(StoreData.Request("late"), null, null);
            using var rows = query.GetEnumerator();
            Assert.True(rows.MoveNext());
            Assert.Equal("a-active-1d", rows.Current.ChannelId);

            // Writers go on while a reader is open (WAL).
            _temp.Store.RecordPending(StoreData.Request("during"), null, null);
            var seen = new List<string> { rows.Current.ChannelId };
            while (rows.MoveNext()) seen.Add(rows.Current.ChannelId);
            Assert.Contains("late", seen);
            Assert.Equal(ChannelState.Pending, _temp.Store.Get("during")!.State);
        }

        [Fact]
        public void FindResourceIdLooksAtOtherChannelsOfTheSameCalendarAndResource()
        {
            Assert.Equal("res-" + RoomA + "-Events", _temp.Store.FindResourceId(RoomA, WatchResource.Events, "sa@example.com", null));
            Assert.Equal("res-" + RoomB + "-Acl", _temp.Store.FindResourceId(RoomB, WatchResource.Acl, "sa@example.com", null));
            Assert.Null(_temp.Store.FindResourceId("nobody@example.com", WatchResource.Events, "sa@example.com", null));

            // Another identity's channel on the same calendar names the same resource.
            Assert.Equal("res-" + RoomB + "-Events", _temp.Store.FindResourceId(RoomB, WatchResource.Events, "someone-else@example.com", "x@example.com"));

            // "me" is a different calendar per identity: only the same identity counts.
            Assert.Equal("res-other@example.com-CalendarList", _temp.Store.FindResourceId("me", WatchResource.CalendarList, "other@example.com", null));
            Assert.Null(_temp.Store.FindResourceId("me", WatchResource.CalendarList, "sa@example.com", null));
        }

        [Fact]
        public void FindResourceIdPrefersTheSameIdentityThenTheNewest()
        {
            _temp.Store.RecordPending(StoreData.Request("mine", "room-c@example.com"), "sa@example.com", "alice@example.com");
            _temp.Store.MarkActive("mine", StoreData.Granted("mine", StoreData.Start.AddDays(1), "res-mine"));
            _temp.Clock.Now = _temp.Clock.Now.AddMinutes(1);
            _temp.Store.RecordPending(StoreData.Request("theirs", "room-c@example.com"), "sa@example.com", "bob@example.com");
            _temp.Store.MarkActive("theirs", StoreData.Granted("theirs", StoreData.Start.AddDays(1), "res-theirs"));
            _temp.Store.RecordPending(StoreData.Request("lost", "room-c@example.com"), "sa@example.com", "alice@example.com");
            _temp.Store.MarkMayExist("lost", "timeout");

            Assert.Equal("res-mine", _temp.Store.FindResourceId("room-c@example.com", WatchResource.Events, "sa@example.com", "alice@example.com"));
            Assert.Equal("res-theirs", _temp.Store.FindResourceId("room-c@example.com", WatchResource.Events, "sa@example.com", "bob@example.com"));
            Assert.Equal("res-theirs", _temp.Store.FindResourceId("room-c@example.com", WatchResource.Events, "sa@example.com", "carol@example.com"));

            // "primary" is each user's own calendar.
            _temp.Store.RecordPending(StoreData.Request("p-alice", "primary"), "sa@example.com", "alice@example.com");
            _temp.Store.MarkActive("p-alice", StoreData.Granted("p-alice", StoreData.Start.AddDays(1), "res-alice-primary"));
            Assert.Equal("res-alice-primary", _temp.Store.FindResourceId("primary", WatchResource.Events, "sa@example.com", "alice@example.com"));
            Assert.Null(_temp.Store.FindResourceId("primary", WatchResource.Events, "sa@example.com", "bob@example.com"));
        }
    }
}
