using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Engine.Notifications
{
    /// <summary>What a receiver does with one request: the notification to write (or none) and the status to answer.</summary>
    public sealed class NotificationVerdict
    {
        internal NotificationVerdict(int statusCode, Notification? notification, CalendarWatchException? error, string? warning)
        {
            StatusCode = statusCode;
            Notification = notification;
            Error = error;
            Warning = warning;
        }

        /// <summary>The HTTP status to answer: 200 accepted, 400 malformed, 403 wrong token, 503 record unusable (Google retries).</summary>
        public int StatusCode { get; }

        /// <summary>The notification, when accepted (duplicates included: see <see cref="Notification.IsDuplicate"/>).</summary>
        public Notification? Notification { get; }

        /// <summary>Why the request was refused (one error for the caller), or null.</summary>
        public CalendarWatchException? Error { get; }

        /// <summary>Something the caller should be told once (a channel the record does not know), or null.</summary>
        public string? Warning { get; }
    }

    /// <summary>
    /// Reads Google's notification headers and matches them against the channel record: the token (constant-time), the
    /// channel's place in a renewal (Replaces / ReplacedBy) and the overlap's duplicates. The sync message may come
    /// before the watch answer: the record holds the channel (Pending) from before the request was sent, so it still
    /// matches, and its resourceId is filled in from the notification. Thread-safe: one reader serves a whole receiver.
    /// </summary>
    public sealed class NotificationReader
    {
        public const string ChannelIdHeader = "X-Goog-Channel-ID";
        public const string MessageNumberHeader = "X-Goog-Message-Number";
        public const string ResourceIdHeader = "X-Goog-Resource-ID";
        public const string ResourceStateHeader = "X-Goog-Resource-State";
        public const string ResourceUriHeader = "X-Goog-Resource-URI";
        public const string ChannelExpirationHeader = "X-Goog-Channel-Expiration";
        public const string ChannelTokenHeader = "X-Goog-Channel-Token";

        private readonly ChannelStore? _store;
        private readonly byte[]? _defaultTokenHash;

        // Successor known to exist, by predecessor id: learned from the record and from the successor's own notifications.
        private readonly ConcurrentDictionary<string, string> _successors = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, byte> _warnedUnknown = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);

        // Recent record lookups: a receiver at thousands of notifications a second reads each channel once a second at most.
        private readonly ConcurrentDictionary<string, Cached> _recent = new ConcurrentDictionary<string, Cached>(StringComparer.Ordinal);
        private static readonly long CacheTicks = System.Diagnostics.Stopwatch.Frequency; // 1 s

        private sealed class Cached
        {
            public Cached(ChannelRecord? record, long at)
            {
                Record = record;
                At = at;
                TokenHash = record is null ? null : Hash(record.Token ?? string.Empty);
            }

            public ChannelRecord? Record { get; }

            public long At { get; }

            public byte[]? TokenHash { get; }
        }

        /// <param name="store">The channel record, or null (-NoRecord): then every channel is unknown.</param>
        /// <param name="defaultToken">The token expected from channels the record does not know (null: not checked).</param>
        public NotificationReader(ChannelStore? store, string? defaultToken)
        {
            _store = store;
            _defaultTokenHash = defaultToken is null ? null : Hash(defaultToken);
            if (store != null)
            {
                // Renewals already in the record: a successor that Google answered (Active, or with a resourceId) exists.
                foreach (var record in store.Query(new ChannelQuery { AllStates = true, States = new[] { Store.ChannelState.Active, Store.ChannelState.Pending, Store.ChannelState.MayExist } }))
                {
                    if (record.Replaces != null && (record.State == Store.ChannelState.Active || !string.IsNullOrEmpty(record.ResourceId)))
                    {
                        _successors[record.Replaces] = record.ChannelId;
                    }
                }
            }
        }

        /// <summary>
        /// Reads one request's headers (any case; a value may be a string or a one-element array) and decides.
        /// <paramref name="getHeader"/> returns a header's values (null when absent).
        /// </summary>
        public NotificationVerdict Read(Func<string, IReadOnlyList<string>?> getHeader, DateTimeOffset receivedAt)
        {
            if (getHeader is null) throw new ArgumentNullException(nameof(getHeader));
            var problems = new List<string>();
            var channelId = Single(getHeader, ChannelIdHeader, problems, required: true);
            var numberText = Single(getHeader, MessageNumberHeader, problems, required: true);
            var state = Single(getHeader, ResourceStateHeader, problems, required: true);
            var resourceId = Single(getHeader, ResourceIdHeader, problems, required: true);
            var uriText = Single(getHeader, ResourceUriHeader, problems, required: false);
            var expirationText = Single(getHeader, ChannelExpirationHeader, problems, required: false);
            var token = Single(getHeader, ChannelTokenHeader, problems, required: false);

            if (channelId != null && (channelId.Length > 64 || HasControl(channelId))) problems.Add($"{ChannelIdHeader} is not a channel id (at most 64 characters, no control characters)");
            long number = 0;
            if (numberText != null && (!long.TryParse(numberText, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number < 1))
            {
                problems.Add($"{MessageNumberHeader} '{Cut(numberText)}' is not a positive whole number");
            }

            if (state != null && state != "sync" && state != "exists" && state != "not_exists")
            {
                problems.Add($"{ResourceStateHeader} '{Cut(state)}' is not sync, exists or not_exists");
            }

            DateTimeOffset? expiration = null;
            if (expirationText != null)
            {
                if (DateTimeOffset.TryParseExact(expirationText, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)) expiration = parsed;
                else problems.Add($"{ChannelExpirationHeader} '{Cut(expirationText)}' is not an RFC 1123 date (such as 'Tue, 08 Dec 2026 10:00:00 GMT')");
            }

            string? calendarId = null;
            WatchResource? resource = null;
            if (uriText != null && !TryReadResourceUri(uriText, out calendarId, out resource))
            {
                problems.Add($"{ResourceUriHeader} '{Cut(uriText)}' is not a Calendar API resource address");
            }

            if (problems.Count > 0)
            {
                return new NotificationVerdict(400, null, new CalendarWatchException("CalendarWatch.MalformedNotification", FailureKind.InvalidArgument,
                    "A request to the receiver is not a Google Calendar push notification: " + string.Join("; ", problems) +
                    ". It was answered 400 and the receiver goes on. If it came from your own code or a proxy, send the X-Goog-* headers as Google does (see the push-notification guide); if it came from elsewhere, nothing needs doing.")
                {
                    ChannelId = channelId,
                }, null);
            }

            Cached? cached = null;
            if (_store != null)
            {
                var now = System.Diagnostics.Stopwatch.GetTimestamp();
                if (!_recent.TryGetValue(channelId!, out cached) || now - cached.At > CacheTicks)
                {
                    try
                    {
                        cached = new Cached(_store.Get(channelId!), now);
                    }
                    catch (CalendarWatchException ex)
                    {
                        // The record cannot be read now (locked too long, unreadable): Google retries a 503 with backoff.
                        return new NotificationVerdict(503, null, ex, null);
                    }

                    if (_recent.Count > 100_000) _recent.Clear();
                    _recent[channelId!] = cached;
                }
            }

            var record = cached?.Record;

            string? warning = null;
            bool? tokenMatched;
            if (record != null)
            {
                tokenMatched = FixedTimeEquals(cached!.TokenHash!, Hash(token ?? string.Empty));
            }
            else
            {
                tokenMatched = _defaultTokenHash is null ? (bool?)null : FixedTimeEquals(_defaultTokenHash, Hash(token ?? string.Empty));
                if (_store != null && _warnedUnknown.TryAdd(channelId!, 0))
                {
                    warning = $"Channel '{channelId}' (resource {resourceId}{(calendarId is null ? string.Empty : ", calendar " + calendarId)}) is not in the channel record {_store.Path}: it was accepted (200) and written with IsKnownChannel False. " +
                              $"If it is not yours to receive, its maker can stop it: Stop-CalendarChannel -Id '{channelId}' -ResourceId '{resourceId}'.";
                }
            }

            if (tokenMatched == false)
            {
                return new NotificationVerdict(403, null, new CalendarWatchException("CalendarWatch.ChannelTokenMismatch", FailureKind.PermissionDenied,
                    $"A notification for channel '{channelId}' carried {(string.IsNullOrEmpty(token) ? "no channel token" : "a channel token")} other than the one " +
                    (record != null ? "the channel record holds for it" : "-Token names") +
                    ". It was refused (403) and not written. If the channel is yours, its token changed: renew it (Update-CalendarChannel) or check -Token; otherwise someone else is posting to this address.")
                {
                    ChannelId = channelId,
                    CalendarId = calendarId,
                }, null);
            }

            var successor = record?.ReplacedBy;
            if (record != null)
            {
                if (string.IsNullOrEmpty(record.ResourceId) && (record.State == Store.ChannelState.Pending || record.State == Store.ChannelState.MayExist))
                {
                    // The sync message came before the watch answer, or the answer never came: the notification names it.
                    try
                    {
                        record = _store!.SetResourceId(record.ChannelId, resourceId!);
                        _recent[record.ChannelId] = new Cached(record, System.Diagnostics.Stopwatch.GetTimestamp());
                    }
                    catch (CalendarWatchException ex)
                    {
                        warning = $"Channel '{channelId}': its resourceId '{resourceId}' could not be written to the channel record: {ex.Message}";
                    }
                }

                // A successor that delivers exists: from now on its predecessor's changes are the duplicates.
                if (record.Replaces != null) _successors[record.Replaces] = record.ChannelId;
                if (successor is null && _successors.TryGetValue(record.ChannelId, out var learned)) successor = learned;
            }

            var notification = new Notification
            {
                ChannelId = channelId!,
                MessageNumber = number,
                ResourceState = state!,
                ResourceId = resourceId!,
                ResourceUri = uriText,
                CalendarId = calendarId,
                Resource = resource,
                ChannelExpiration = expiration,
                TokenMatched = tokenMatched,
                IsKnownChannel = record != null,
                ChannelState = record?.State,
                Replaces = record?.Replaces,
                ReplacedBy = successor,
                IsDuplicate = successor != null && state != "sync",
                Subject = record?.Subject,
                ReceivedAt = receivedAt,
            };
            return new NotificationVerdict(200, notification, null, warning);
        }

        /// <summary>
        /// The calendar and resource of a resource URI: .../calendar/v3/calendars/{id}/events|acl (id percent-decoded), or
        /// .../users/me/calendarList|settings ("me").
        /// </summary>
        public static bool TryReadResourceUri(string text, out string? calendarId, out WatchResource? resource)
        {
            calendarId = null;
            resource = null;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)) return false;
            var segments = uri.AbsolutePath.Trim('/').Split('/');
            var v3 = Array.IndexOf(segments, "v3");
            if (v3 < 0) return false;
            var rest = segments.Length - v3 - 1;
            if (rest == 3 && segments[v3 + 1] == "calendars")
            {
                var id = Uri.UnescapeDataString(segments[v3 + 2]);
                if (id.Length == 0) return false;
                switch (segments[v3 + 3])
                {
                    case "events": resource = WatchResource.Events; break;
                    case "acl": resource = WatchResource.Acl; break;
                    default: return false;
                }

                calendarId = id;
                return true;
            }

            if (rest == 3 && segments[v3 + 1] == "users" && segments[v3 + 2] == "me")
            {
                switch (segments[v3 + 3])
                {
                    case "calendarList": resource = WatchResource.CalendarList; break;
                    case "settings": resource = WatchResource.Settings; break;
                    default: return false;
                }

                calendarId = "me";
                return true;
            }

            return false;
        }

        /// <summary>Both sides hashed first, so that neither the content nor the length of the expected token shows in the time taken.</summary>
        private static byte[] Hash(string value)
        {
#if NET
            return SHA256.HashData(Encoding.UTF8.GetBytes(value));
#else
            using var sha = SHA256.Create();
            return sha.ComputeHash(Encoding.UTF8.GetBytes(value));
#endif
        }

        private static bool FixedTimeEquals(byte[] left, byte[] right)
        {
#if NET
            return CryptographicOperations.FixedTimeEquals(left, right);
#else
            if (left.Length != right.Length) return false;
            var difference = 0;
            for (var i = 0; i < left.Length; i++) difference |= left[i] ^ right[i];
            return difference == 0;
#endif
        }

        private static string? Single(Func<string, IReadOnlyList<string>?> getHeader, string name, List<string> problems, bool required)
        {
            var values = getHeader(name);
            if (values is null || values.Count == 0 || (values.Count == 1 && string.IsNullOrEmpty(values[0])))
            {
                if (required) problems.Add($"{name} is missing");
                return null;
            }

            if (values.Count > 1)
            {
                problems.Add($"{name} came {values.Count} times");
                return null;
            }

            return values[0].Trim();
        }

        private static bool HasControl(string value)
        {
            foreach (var c in value)
            {
                if (char.IsControl(c)) return true;
            }

            return false;
        }

        /// <summary>Client text quoted in a message: at most 100 characters, control characters shown as '?'.</summary>
        private static string Cut(string value)
        {
            var builder = new StringBuilder(Math.Min(value.Length, 100) + 3);
            foreach (var c in value)
            {
                if (builder.Length == 100)
                {
                    builder.Append("...");
                    break;
                }

                builder.Append(char.IsControl(c) ? '?' : c);
            }

            return builder.ToString();
        }
    }
}
