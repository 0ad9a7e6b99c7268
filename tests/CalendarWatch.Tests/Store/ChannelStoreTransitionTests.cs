using System;
using System.Linq;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;
using Xunit;

namespace CalendarWatch.Tests.Store
{
    /// <summary>Every state change the record allows, and the ones it refuses.</summary>
    public sealed class ChannelStoreTransitionTests : IDisposable
    {
        private readonly StoreFolder _folder = new StoreFolder();
        private readonly ManualClock _clock = new ManualClock(StoreData.Start);
        private readonly ChannelStore _store;

        public ChannelStoreTransitionTests()
        {
            _store = ChannelStore.Open(_folder.File(), new ChannelStoreOptions { Clock = _clock });
        }

        public void Dispose()
        {
            _store.Dispose();
            _folder.Dispose();
        }

        [Fact]
        public void PendingRecordsTheRequestAsItWillBeSent()
        {
            var request = StoreData.Request("p1", subject: "user@example.com");
            request.TimeToLive = TimeSpan.FromHours(36);
            request.EventTypes = new[] { "default", "focusTime" };
            var written = _store.RecordPending(request, "sa@example.iam.gserviceaccount.com", null, replaces: "older");

            var read = _store.Get("p1")!;
            foreach (var record in new[] { written, read })
            {
                Assert.Equal(ChannelState.Pending, record.State);
                Assert.Equal("room-1@resource.calendar.google.com", record.CalendarId);
                Assert.Equal(WatchResource.Events, record.Resource);
                Assert.Equal("https://hooks.example.com/calendar", record.Address);
                Assert.Equal("token-p1", record.Token);
                Assert.Equal("default,focusTime", record.EventTypes);
                Assert.Equal("sa@example.iam.gserviceaccount.com", record.Account);
                Assert.Equal("user@example.com", record.Subject);
                Assert.Equal(TimeSpan.FromHours(36), record.TimeToLive);
                Assert.Null(record.ExpiresAt);
                Assert.Null(record.ResourceId);
                Assert.Null(record.Expiration);
                Assert.Equal(StoreData.Start, record.CreatedAt);
                Assert.Equal(StoreData.Start, record.UpdatedAt);
                Assert.Equal("older", record.Replaces);
                Assert.True(record.IsLive);
            }
        }

        [Fact]
        public void WhatRecordPendingReturnsIsWhatGetReads()
        {
            _clock.Now = StoreData.Start.AddTicks(1234567);
            var request = StoreData.Request("ms");
            request.ExpiresAt = StoreData.Start.AddDays(3).AddTicks(98765);
            var written = _store.RecordPending(request, null, null);
            var read = _store.Get("ms")!;
            Assert.Equal(read.CreatedAt, written.CreatedAt);
            Assert.Equal(read.ExpiresAt, written.ExpiresAt);
            Assert.Equal(StoreData.Start.AddMilliseconds(123), written.CreatedAt);
        }

        [Fact]
        public void TheGivenSubjectWinsOverTheRequestsAndOwnCalendarsAreMe()
        {
            _store.RecordPending(StoreData.Request("s1", subject: "request@example.com"), null, "effective@example.com");
            Assert.Equal("effective@example.com", _store.Get("s1")!.Subject);

            var list = StoreData.Request("l1", calendarId: "ignored", resource: WatchResource.CalendarList);
            list.ExpiresAt = StoreData.Start.AddDays(2);
            _store.RecordPending(list, null, null);
            var record = _store.Get("l1")!;
            Assert.Equal("me", record.CalendarId);
            Assert.Equal(StoreData.Start.AddDays(2), record.ExpiresAt);
        }

        [Fact]
        public void ARecordedIdIsRefusedBeforeAnythingIsSent()
        {
            _store.RecordPending(StoreData.Request("dup"), null, null);
            var error = Assert.Throws<CalendarWatchException>(() => _store.RecordPending(StoreData.Request("dup", calendarId: "other@example.com"), null, null));
            Assert.Equal("CalendarWatch.ChannelIdRecorded", error.ErrorId);
            Assert.Equal(FailureKind.ResourceExists, error.Kind);
            Assert.Contains("room-1@resource.calendar.google.com", error.Message);
            Assert.Equal("room-1@resource.calendar.google.com", _store.Get("dup")!.CalendarId);
        }

        [Fact]
        public void InvalidRequestsNeverEnterTheRecord()
        {
            Assert.Throws<CalendarWatchException>(() => _store.RecordPending(StoreData.Request(string.Empty), null, null));
            var noAddress = StoreData.Request("x");
            noAddress.Address = null;
            Assert.Throws<CalendarWatchException>(() => _store.RecordPending(noAddress, null, null));
            Assert.Empty(_store.Query(new ChannelQuery { AllStates = true }));
        }

        [Fact]
        public void PendingBecomesActiveWithWhatGoogleGranted()
        {
            _store.RecordPending(StoreData.Request("a1"), null, null);
            _clock.Now = StoreData.Start.AddSeconds(1);
            var active = _store.MarkActive("a1", StoreData.Granted("a1", StoreData.Start.AddDays(7), "res-a"));

            Assert.Equal(ChannelState.Active, active.State);
            Assert.Equal("res-a", active.ResourceId);
            Assert.Equal(StoreData.Start.AddDays(7), active.Expiration);
            Assert.StartsWith("https://www.googleapis.com/", active.ResourceUri);
            Assert.Equal("token-a1", active.Token);
            Assert.Equal(StoreData.Start, active.CreatedAt);
            Assert.Equal(StoreData.Start.AddSeconds(1), active.UpdatedAt);
            Assert.Equal(ChannelState.Active, _store.Get("a1")!.State);
        }

        [Fact]
        public void ActiveReadsAsExpiredOnceItsExpirationPassed()
        {
            _store.RecordPending(StoreData.Request("e1"), null, null);
            _store.MarkActive("e1", StoreData.Granted("e1", StoreData.Start.AddHours(1)));
            _clock.Now = StoreData.Start.AddHours(1);
            var expired = _store.Get("e1")!;
            Assert.Equal(ChannelState.Expired, expired.State);
            Assert.False(expired.IsLive);

            // Expired is never stored: stopping it (Google answers 404, the cmdlet records it stopped) still works.
            Assert.Equal(ChannelState.Stopped, _store.MarkStopped("e1").State);
        }

        [Fact]
        public void PendingFailsWithItsErrorAndStaysFailed()
        {
            _store.RecordPending(StoreData.Request("f1"), null, null);
            var failed = _store.MarkFailed("f1", "HTTP 400 pushNotSupportedForRequestedResource");
            Assert.Equal(ChannelState.Failed, failed.State);
            Assert.Equal("HTTP 400 pushNotSupportedForRequestedResource", failed.LastError);
            Assert.False(failed.IsLive);

            foreach (var move in new Func<ChannelRecord>[]
            {
                () => _store.MarkActive("f1", StoreData.Granted("f1", StoreData.Start.AddDays(1))),
                () => _store.MarkMayExist("f1", "timeout"),
                () => _store.MarkStopped("f1"),
            })
            {
                var error = Assert.Throws<CalendarWatchException>(() => move());
                Assert.Equal("CalendarWatch.ChannelStateConflict", error.ErrorId);
                Assert.Contains("never existed", error.Message);
            }

            Assert.Equal(ChannelState.Failed, _store.Get("f1")!.State);
        }

        [Fact]
        public void OnlyPendingCanFailActiveIsRefused()
        {
            _store.RecordPending(StoreData.Request("a2"), null, null);
            _store.MarkActive("a2", StoreData.Granted("a2", StoreData.Start.AddDays(1)));
            var error = Assert.Throws<CalendarWatchException>(() => _store.MarkFailed("a2", "late"));
            Assert.Equal("CalendarWatch.ChannelStateConflict", error.ErrorId);
            Assert.Contains("stop it instead", error.Message);

            _store.RecordPending(StoreData.Request("m2"), null, null);
            _store.MarkMayExist("m2", "timeout");
            Assert.Throws<CalendarWatchException>(() => _store.MarkFailed("m2", "refused"));
            Assert.Equal(ChannelState.MayExist, _store.Get("m2")!.State);
        }

        [Fact]
        public void MayExistGetsAResourceIdFromANotificationThenStops()
        {
            _store.RecordPending(StoreData.Request("m1"), null, null);
            var mayExist = _store.MarkMayExist("m1", "The API did not answer within 30 s.");
            Assert.Equal(ChannelState.MayExist, mayExist.State);
            Assert.Equal("The API did not answer within 30 s.", mayExist.LastError);
            Assert.True(mayExist.IsLive);

            var filled = _store.SetResourceId("m1", "res-from-sync");
            Assert.Equal(ChannelState.MayExist, filled.State);
            Assert.Equal("res-from-sync", filled.ResourceId);

            Assert.Equal(ChannelState.Stopped, _store.MarkStopped("m1").State);
            Assert.Equal("res-from-sync", _store.Get("m1")!.ResourceId);
        }

        [Fact]
        public void MayExistCanTurnOutActive()
        {
            _store.RecordPending(StoreData.Request("m3"), null, null);
            _store.MarkMayExist("m3", "cut off");
            var active = _store.MarkActive("m3", StoreData.Granted("m3", StoreData.Start.AddDays(3)));
            Assert.Equal(ChannelState.Active, active.State);
            Assert.Null(active.LastError);
        }

        [Fact]
        public void StoppingIsIdempotentAndFinal()
        {
            _store.RecordPending(StoreData.Request("s1"), null, null);
            _store.MarkActive("s1", StoreData.Granted("s1", StoreData.Start.AddDays(1)));
            Assert.Equal(ChannelState.Stopped, _store.MarkStopped("s1").State);
            Assert.Equal(ChannelState.Stopped, _store.MarkStopped("s1").State);
            Assert.Throws<CalendarWatchException>(() => _store.MarkActive("s1", StoreData.Granted("s1", StoreData.Start.AddDays(1))));
            Assert.Throws<CalendarWatchException>(() => _store.MarkMayExist("s1", "x"));
        }

        [Fact]
        public void APendingLeftByAKilledProcessCanBeStopped()
        {
            _store.RecordPending(StoreData.Request("orphan"), null, null);
            Assert.Equal(ChannelState.Stopped, _store.MarkStopped("orphan").State);
        }

        [Fact]
        public void ReplacingLinksBothChannelsInOneStep()
        {
            _store.RecordPending(StoreData.Request("old"), null, null);
            _store.MarkActive("old", StoreData.Granted("old", StoreData.Start.AddDays(1)));
            _store.RecordPending(StoreData.Request("new"), null, null, replaces: "old");
            _store.MarkActive("new", StoreData.Granted("new", StoreData.Start.AddDays(8)));

            var old = _store.MarkReplaced("old", "new");
            Assert.Equal(ChannelState.Replaced, old.State);
            Assert.Equal("new", old.ReplacedBy);
            Assert.False(old.IsLive);
            Assert.Equal("old", _store.Get("new")!.Replaces);

            // Saying it again is harmless; a second successor is refused.
            Assert.Equal(ChannelState.Replaced, _store.MarkReplaced("old", "new").State);
            _store.RecordPending(StoreData.Request("third"), null, null);
            Assert.Throws<CalendarWatchException>(() => _store.MarkReplaced("old", "third"));

            // A replaced channel left to lapse can still be stopped explicitly.
            Assert.Equal(ChannelState.Stopped, _store.MarkStopped("old").State);
            Assert.Equal("new", _store.Get("old")!.ReplacedBy);
        }

        [Fact]
        public void ReplacingSetsReplacesWhenPendingDidNotAndRefusesAConflict()
        {
            _store.RecordPending(StoreData.Request("o1"), null, null);
            _store.MarkActive("o1", StoreData.Granted("o1", StoreData.Start.AddDays(1)));
            _store.MarkStopped("o1");
            _store.RecordPending(StoreData.Request("n1"), null, null);
            _store.MarkActive("n1", StoreData.Granted("n1", StoreData.Start.AddDays(8)));
            Assert.Equal(ChannelState.Replaced, _store.MarkReplaced("o1", "n1").State);
            Assert.Equal("o1", _store.Get("n1")!.Replaces);

            _store.RecordPending(StoreData.Request("o2"), null, null);
            _store.MarkActive("o2", StoreData.Granted("o2", StoreData.Start.AddDays(1)));
            var error = Assert.Throws<CalendarWatchException>(() => _store.MarkReplaced("o2", "n1"));
            Assert.Equal("CalendarWatch.ChannelStateConflict", error.ErrorId);
            Assert.Equal(ChannelState.Active, _store.Get("o2")!.State);
        }

        [Fact]
        public void PendingAndFailedCannotBeReplaced()
        {
            _store.RecordPending(StoreData.Request("n"), null, null);
            _store.RecordPending(StoreData.Request("pending"), null, null);
            _store.RecordPending(StoreData.Request("failed"), null, null);
            _store.MarkFailed("failed", "400");
            Assert.Throws<CalendarWatchException>(() => _store.MarkReplaced("pending", "n"));
            Assert.Throws<CalendarWatchException>(() => _store.MarkReplaced("failed", "n"));
            Assert.Null(_store.Get("n")!.Replaces);
        }

        [Fact]
        public void UnknownChannelsAreNotFound()
        {
            Assert.Null(_store.Get("nobody"));
            foreach (var move in new Func<ChannelRecord>[]
            {
                () => _store.MarkActive("nobody", StoreData.Granted("nobody", StoreData.Start)),
                () => _store.MarkFailed("nobody", "x"),
                () => _store.MarkMayExist("nobody", "x"),
                () => _store.MarkStopped("nobody"),
                () => _store.SetResourceId("nobody", "r"),
            })
            {
                var error = Assert.Throws<CalendarWatchException>(() => move());
                Assert.Equal("CalendarWatch.ChannelNotRecorded", error.ErrorId);
                Assert.Equal(FailureKind.ObjectNotFound, error.Kind);
            }

            _store.RecordPending(StoreData.Request("known"), null, null);
            _store.MarkActive("known", StoreData.Granted("known", StoreData.Start.AddDays(1)));
            Assert.Equal("CalendarWatch.ChannelNotRecorded", Assert.Throws<CalendarWatchException>(() => _store.MarkReplaced("known", "nobody")).ErrorId);
            Assert.Equal("CalendarWatch.ChannelNotRecorded", Assert.Throws<CalendarWatchException>(() => _store.MarkReplaced("nobody", "known")).ErrorId);
        }

        [Fact]
        public void MarkActiveChecksTheChannelItIsGiven()
        {
            _store.RecordPending(StoreData.Request("c"), null, null);
            Assert.Throws<ArgumentException>(() => _store.MarkActive("c", StoreData.Granted("other", StoreData.Start)));
            Assert.Throws<ArgumentException>(() => _store.MarkActive("c", new Channel { Id = "c" }));
            Assert.Equal(ChannelState.Pending, _store.Get("c")!.State);
        }

        [Fact]
        public void RacingCallersMoveAChannelOnce()
        {
            _store.RecordPending(StoreData.Request("race"), null, null);
            var outcomes = Enumerable.Range(0, 16).AsParallel().WithDegreeOfParallelism(8).Select(i =>
            {
                try
                {
                    return i % 2 == 0 ? _store.MarkFailed("race", "refused").State.ToString() : _store.MarkActive("race", StoreData.Granted("race", StoreData.Start.AddDays(1))).State.ToString();
                }
                catch (CalendarWatchException ex) when (ex.ErrorId == "CalendarWatch.ChannelStateConflict")
                {
                    return "refused";
                }
            }).ToList();

            var final = _store.Get("race")!.State.ToString();
            Assert.All(outcomes, o => Assert.True(o == final || o == "refused", string.Join(",", outcomes)));
        }

        [Fact]
        public void AClosedStoreSaysSo()
        {
            _store.Dispose();
            Assert.Throws<ObjectDisposedException>(() => _store.Get("x"));
            Assert.Throws<ObjectDisposedException>(() => _store.Query().ToList());
        }
    }
}
