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
        private readonly TempStore _temp = new TempStore();

        public void Dispose() => _temp.Dispose();

        [Fact]
        public void PendingRecordsTheRequestAsItWillBeSent()
        {
            var request = StoreData.Request("p1", subject: "user@example.com");
            request.TimeToLive = TimeSpan.FromHours(36);
            request.EventTypes = new[] { "default", "focusTime" };
            var written = _temp.Store.RecordPending(request, "sa@example.iam.gserviceaccount.com", null, replaces: "older");

            var read = _temp.Store.Get("p1")!;
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
            _temp.Clock.Now = StoreData.Start.AddTicks(1234567);
            var request = StoreData.Request("ms");
            request.ExpiresAt = StoreData.Start.AddDays(3).AddTicks(98765);
            var written = _temp.Store.RecordPending(request, null, null);
            var read = _temp.Store.Get("ms")!;
            Assert.Equal(read.CreatedAt, written.CreatedAt);
            Assert.Equal(read.ExpiresAt, written.ExpiresAt);
            Assert.Equal(StoreData.Start.AddMilliseconds(123), written.CreatedAt);
        }

        [Fact]
        public void TheGivenSubjectWinsOverTheRequestsAndOwnCalendarsAreMe()
        {
            _temp.Store.RecordPending(StoreData.Request("s1", subject: "request@example.com"), null, "effective@example.com");
            Assert.Equal("effective@example.com", _temp.Store.Get("s1")!.Subject);

            var list = StoreData.Request("l1", calendarId: "ignored", resource: WatchResource.CalendarList);
            list.ExpiresAt = StoreData.Start.AddDays(2);
            _temp.Store.RecordPending(list, null, null);
            var record = _temp.Store.Get("l1")!;
            Assert.Equal("me", record.CalendarId);
            Assert.Equal(StoreData.Start.AddDays(2), record.ExpiresAt);
        }

        [Fact]
        public void ARecordedIdIsRefusedBeforeAnythingIsSent()
        {
            _temp.Store.RecordPending(StoreData.Request("dup"), null, null);
            var error = Assert.Throws<CalendarWatchException>(() => _temp.Store.RecordPending(StoreData.Request("dup", calendarId: "other@example.com"), null, null));
            Assert.Equal("CalendarWatch.ChannelIdRecorded", error.ErrorId);
            Assert.Equal(FailureKind.ResourceExists, error.Kind);
            Assert.Contains("room-1@resource.calendar.google.com", error.Message);
            Assert.Equal("room-1@resource.calendar.google.com", _temp.Store.Get("dup")!.CalendarId);
        }

        [Fact]
        public void InvalidRequestsNeverEnterTheRecord()
        {
            Assert.Throws<CalendarWatchException>(() => _temp.Store.RecordPending(StoreData.Request(string.Empty), null, null));
            var noAddress = StoreData.Request("x");
            noAddress.Address = null;
            Assert.Throws<CalendarWatchException>(() => _temp.Store.RecordPending(noAddress, null, null));
            Assert.Empty(_temp.Store.Query(new ChannelQuery { AllStates = true }));
        }

        [Fact]
        public void PendingBecomesActiveWithWhatGoogleGranted()
        {
            _temp.Store.RecordPending(StoreData.Request("a1"), null, null);
            _temp.Clock.Now = StoreData.Start.AddSeconds(1);
            var active = _temp.Store.MarkActive("a1", StoreData.Granted("a1", StoreData.Start.AddDays(7), "res-a"));

            Assert.Equal(ChannelState.Active, active.State);
            Assert.Equal("res-a", active.ResourceId);
            Assert.Equal(StoreData.Start.AddDays(7), active.Expiration);
            Assert.StartsWith("https://www.googleapis.com/", active.ResourceUri);
            Assert.Equal("token-a1", active.Token);
            Assert.Equal(StoreData.Start, active.CreatedAt);
            Assert.Equal(StoreData.Start.AddSeconds(1), active.UpdatedAt);
            Assert.Equal(ChannelState.Active, _temp.Store.Get("a1")!.State);
        }

        [Fact]
        public void ActiveReadsAsExpiredOnceItsExpirationPassed()
        {
            _temp.Store.RecordPending(StoreData.Request("e1"), null, null);
            _temp.Store.MarkActive("e1", StoreData.Granted("e1", StoreData.Start.AddHours(1)));
            _temp.Clock.Now = StoreData.Start.AddHours(1);
            var expired = _temp.Store.Get("e1")!;
            Assert.Equal(ChannelState.Expired, expired.State);
            Assert.False(expired.IsLive);

            // Expired is never stored: stopping it (Google answers 404, the cmdlet records it stopped) still works.
            Assert.Equal(ChannelState.Stopped, _temp.Store.MarkStopped("e1").State);
        }

        [Fact]
        public void PendingFailsWithItsErrorAndStaysFailed()
        {
            _temp.Store.RecordPending(StoreData.Request("f1"), null, null);
            var failed = _temp.Store.MarkFailed("f1", "HTTP 400 pushNotSupportedForRequestedResource");
            Assert.Equal(ChannelState.Failed, failed.State);
            Assert.Equal("HTTP 400 pushNotSupportedForRequestedResource", failed.LastError);
            Assert.False(failed.IsLive);

            foreach (var move in new Func<ChannelRecord>[]
            {
                () => _temp.Store.MarkActive("f1", StoreData.Granted("f1", StoreData.Start.AddDays(1))),
                () => _temp.Store.MarkMayExist("f1", "timeout"),
                () => _temp.Store.MarkStopped("f1"),
            })
            {
                var error = Assert.Throws<CalendarWatchException>(() => move());
                Assert.Equal("CalendarWatch.ChannelStateConflict", error.ErrorId);
                Assert.Contains("never existed", error.Message);
            }

            Assert.Equal(ChannelState.Failed, _temp.Store.Get("f1")!.State);
        }

        [Fact]
        public void OnlyPendingCanFailActiveIsRefused()
        {
            _temp.Store.RecordPending(StoreData.Request("a2"), null, null);
            _temp.Store.MarkActive("a2", StoreData.Granted("a2", StoreData.Start.AddDays(1)));
            var error = Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkFailed("a2", "late"));
            Assert.Equal("CalendarWatch.ChannelStateConflict", error.ErrorId);
            Assert.Contains("stop it instead", error.Message);

            _temp.Store.RecordPending(StoreData.Request("m2"), null, null);
            _temp.Store.MarkMayExist("m2", "timeout");
            Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkFailed("m2", "refused"));
            Assert.Equal(ChannelState.MayExist, _temp.Store.Get("m2")!.State);
        }

        [Fact]
        public void MayExistGetsAResourceIdFromANotificationThenStops()
        {
            _temp.Store.RecordPending(StoreData.Request("m1"), null, null);
            var mayExist = _temp.Store.MarkMayExist("m1", "The API did not answer within 30 s.");
            Assert.Equal(ChannelState.MayExist, mayExist.State);
            Assert.Equal("The API did not answer within 30 s.", mayExist.LastError);
            Assert.True(mayExist.IsLive);

            var filled = _temp.Store.SetResourceId("m1", "res-from-sync");
            Assert.Equal(ChannelState.MayExist, filled.State);
            Assert.Equal("res-from-sync", filled.ResourceId);

            Assert.Equal(ChannelState.Stopped, _temp.Store.MarkStopped("m1").State);
            Assert.Equal("res-from-sync", _temp.Store.Get("m1")!.ResourceId);
        }

        [Fact]
        public void MayExistCanTurnOutActive()
        {
            _temp.Store.RecordPending(StoreData.Request("m3"), null, null);
            _temp.Store.MarkMayExist("m3", "cut off");
            var active = _temp.Store.MarkActive("m3", StoreData.Granted("m3", StoreData.Start.AddDays(3)));
            Assert.Equal(ChannelState.Active, active.State);
            Assert.Null(active.LastError);
        }

        [Fact]
        public void StoppingIsIdempotentAndFinal()
        {
            _temp.Store.RecordPending(StoreData.Request("s1"), null, null);
            _temp.Store.MarkActive("s1", StoreData.Granted("s1", StoreData.Start.AddDays(1)));
            Assert.Equal(ChannelState.Stopped, _temp.Store.MarkStopped("s1").State);
            Assert.Equal(ChannelState.Stopped, _temp.Store.MarkStopped("s1").State);
            Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkActive("s1", StoreData.Granted("s1", StoreData.Start.AddDays(1))));
            Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkMayExist("s1", "x"));
        }

        [Fact]
        public void APendingLeftByAKilledProcessCanBeStopped()
        {
            _temp.Store.RecordPending(StoreData.Request("orphan"), null, null);
            Assert.Equal(ChannelState.Stopped, _temp.Store.MarkStopped("orphan").State);
        }

        [Fact]
        public void ReplacingLinksBothChannelsInOneStep()
        {
            _temp.Store.RecordPending(StoreData.Request("old"), null, null);
            _temp.Store.MarkActive("old", StoreData.Granted("old", StoreData.Start.AddDays(1)));
            _temp.Store.RecordPending(StoreData.Request("new"), null, null, replaces: "old");
            _temp.Store.MarkActive("new", StoreData.Granted("new", StoreData.Start.AddDays(8)));

            var old = _temp.Store.MarkReplaced("old", "new");
            Assert.Equal(ChannelState.Replaced, old.State);
            Assert.Equal("new", old.ReplacedBy);
            Assert.False(old.IsLive);
            Assert.Equal("old", _temp.Store.Get("new")!.Replaces);

            // Saying it again is harmless; a second successor is refused.
            Assert.Equal(ChannelState.Replaced, _temp.Store.MarkReplaced("old", "new").State);
            _temp.Store.RecordPending(StoreData.Request("third"), null, null);
            Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkReplaced("old", "third"));

            // A replaced channel left to lapse can still be stopped explicitly.
            Assert.Equal(ChannelState.Stopped, _temp.Store.MarkStopped("old").State);
            Assert.Equal("new", _temp.Store.Get("old")!.ReplacedBy);
        }

        [Fact]
        public void ReplacingSetsReplacesWhenPendingDidNotAndRefusesAConflict()
        {
            _temp.Store.RecordPending(StoreData.Request("o1"), null, null);
            _temp.Store.MarkActive("o1", StoreData.Granted("o1", StoreData.Start.AddDays(1)));
            _temp.Store.MarkStopped("o1");
            _temp.Store.RecordPending(StoreData.Request("n1"), null, null);
            _temp.Store.MarkActive("n1", StoreData.Granted("n1", StoreData.Start.AddDays(8)));
            Assert.Equal(ChannelState.Replaced, _temp.Store.MarkReplaced("o1", "n1").State);
            Assert.Equal("o1", _temp.Store.Get("n1")!.Replaces);

            _temp.Store.RecordPending(StoreData.Request("o2"), null, null);
            _temp.Store.MarkActive("o2", StoreData.Granted("o2", StoreData.Start.AddDays(1)));
            var error = Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkReplaced("o2", "n1"));
            Assert.Equal("CalendarWatch.ChannelStateConflict", error.ErrorId);
            Assert.Equal(ChannelState.Active, _temp.Store.Get("o2")!.State);
        }

        [Fact]
        public void PendingAndFailedCannotBeReplaced()
        {
            _temp.Store.RecordPending(StoreData.Request("n"), null, null);
            _temp.Store.RecordPending(StoreData.Request("pending"), null, null);
            _temp.Store.RecordPending(StoreData.Request("failed"), null, null);
            _temp.Store.MarkFailed("failed", "400");
            Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkReplaced("pending", "n"));
            Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkReplaced("failed", "n"));
            Assert.Null(_temp.Store.Get("n")!.Replaces);
        }

        [Fact]
        public void UnknownChannelsAreNotFound()
        {
            Assert.Null(_temp.Store.Get("nobody"));
            foreach (var move in new Func<ChannelRecord>[]
            {
                () => _temp.Store.MarkActive("nobody", StoreData.Granted("nobody", StoreData.Start)),
                () => _temp.Store.MarkFailed("nobody", "x"),
                () => _temp.Store.MarkMayExist("nobody", "x"),
                () => _temp.Store.MarkStopped("nobody"),
                () => _temp.Store.SetResourceId("nobody", "r"),
            })
            {
                var error = Assert.Throws<CalendarWatchException>(() => move());
                Assert.Equal("CalendarWatch.ChannelNotRecorded", error.ErrorId);
                Assert.Equal(FailureKind.ObjectNotFound, error.Kind);
            }

            _temp.Store.RecordPending(StoreData.Request("known"), null, null);
            _temp.Store.MarkActive("known", StoreData.Granted("known", StoreData.Start.AddDays(1)));
            Assert.Equal("CalendarWatch.ChannelNotRecorded", Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkReplaced("known", "nobody")).ErrorId);
            Assert.Equal("CalendarWatch.ChannelNotRecorded", Assert.Throws<CalendarWatchException>(() => _temp.Store.MarkReplaced("nobody", "known")).ErrorId);
        }

        [Fact]
        public void MarkActiveChecksTheChannelItIsGiven()
        {
            _temp.Store.RecordPending(StoreData.Request("c"), null, null);
            Assert.Throws<ArgumentException>(() => _temp.Store.MarkActive("c", StoreData.Granted("other", StoreData.Start)));
            Assert.Throws<ArgumentException>(() => _temp.Store.MarkActive("c", new Channel { Id = "c" }));
            Assert.Equal(ChannelState.Pending, _temp.Store.Get("c")!.State);
        }

        [Fact]
        public void RacingCallersMoveAChannelOnce()
        {
            _temp.Store.RecordPending(StoreData.Request("race"), null, null);
            var outcomes = Enumerable.Range(0, 16).AsParallel().WithDegreeOfParallelism(8).Select(i =>
            {
                try
                {
                    return i % 2 == 0 ? _temp.Store.MarkFailed("race", "refused").State.ToString() : _temp.Store.MarkActive("race", StoreData.Granted("race", StoreData.Start.AddDays(1))).State.ToString();
                }
                catch (CalendarWatchException ex) when (ex.ErrorId == "CalendarWatch.ChannelStateConflict")
                {
                    return "refused";
                }
            }).ToList();

            var final = _temp.Store.Get("race")!.State.ToString();
            Assert.All(outcomes, o => Assert.True(o == final || o == "refused", string.Join(",", outcomes)));
        }

        [Fact]
        public void AClosedStoreSaysSo()
        {
            _temp.Store.Dispose();
            Assert.Throws<ObjectDisposedException>(() => _temp.Store.Get("x"));
            Assert.Throws<ObjectDisposedException>(() => _temp.Store.Query().ToList());
        }
    }
}
