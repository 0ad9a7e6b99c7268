using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Management.Automation;
using CalendarWatch.Engine.Notifications;

namespace CalendarWatch
{
    /// <summary>How a <see cref="Notification"/> goes out: the PSTypeName the format file's view selects, instants culture-proof in CSV.</summary>
    public static class NotificationOutput
    {
        /// <summary>The type name CalendarWatch.Format.ps1xml names.</summary>
        public const string TypeName = "CalendarWatch.Notification";

        /// <summary>
        /// A flat PSCustomObject (note properties only, in the class's order): Export-Csv reads one of those in
        /// microseconds, where a .NET object whose properties are shadowed by instance members costs milliseconds.
        /// </summary>
        public static PSObject ToPSObject(Notification notification)
        {
            if (notification is null) throw new ArgumentNullException(nameof(notification));
            var output = new PSObject();
            output.TypeNames.Insert(0, TypeName);
            var properties = output.Properties;
            properties.Add(new PSNoteProperty(nameof(Notification.ChannelId), notification.ChannelId));
            properties.Add(new PSNoteProperty(nameof(Notification.MessageNumber), notification.MessageNumber));
            properties.Add(new PSNoteProperty(nameof(Notification.ResourceState), notification.ResourceState));
            properties.Add(new PSNoteProperty(nameof(Notification.ResourceId), notification.ResourceId));
            properties.Add(new PSNoteProperty(nameof(Notification.ResourceUri), notification.ResourceUri));
            properties.Add(new PSNoteProperty(nameof(Notification.CalendarId), notification.CalendarId));
            properties.Add(new PSNoteProperty(nameof(Notification.Resource), notification.Resource));
            properties.Add(new PSNoteProperty(nameof(Notification.ChannelExpiration), notification.ChannelExpiration is DateTimeOffset expiration ? Instant(expiration) : null));
            properties.Add(new PSNoteProperty(nameof(Notification.TokenMatched), notification.TokenMatched));
            properties.Add(new PSNoteProperty(nameof(Notification.IsKnownChannel), notification.IsKnownChannel));
            properties.Add(new PSNoteProperty(nameof(Notification.ChannelState), notification.ChannelState));
            properties.Add(new PSNoteProperty(nameof(Notification.Replaces), notification.Replaces));
            properties.Add(new PSNoteProperty(nameof(Notification.ReplacedBy), notification.ReplacedBy));
            properties.Add(new PSNoteProperty(nameof(Notification.IsDuplicate), notification.IsDuplicate));
            properties.Add(new PSNoteProperty(nameof(Notification.Subject), notification.Subject));
            properties.Add(new PSNoteProperty(nameof(Notification.ReceivedAt), Instant(notification.ReceivedAt)));
            return output;
        }

        /// <summary>An instant as a notification carries it: <see cref="UtcInstant"/>, whose text is ISO 8601 UTC.</summary>
        public static UtcInstant Instant(DateTimeOffset value) => new UtcInstant(value);

        /// <summary>
        /// A request's headers as the reader wants them (any case; each header's values): from a hashtable (Azure
        /// Functions' $Request.Headers, lower-case keys; Pode's $WebEvent.Request.Headers), any other IDictionary, a
        /// NameValueCollection (HttpListenerRequest.Headers), or pairs with Key and Value (ASP.NET's IHeaderDictionary).
        /// </summary>
        public static Func<string, IReadOnlyList<string>?> HeaderLookup(object headers)
        {
            var table = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
            switch (Unwrap(headers))
            {
                case NameValueCollection collection:
                    foreach (string? key in collection.Keys)
                    {
                        if (key != null) Add(table, key, collection.GetValues(key));
                    }

                    break;
                case IDictionary dictionary:
                    foreach (DictionaryEntry entry in dictionary)
                    {
                        Add(table, Unwrap(entry.Key)?.ToString(), entry.Value);
                    }

                    break;
                case IEnumerable pairs:
                    foreach (var pair in pairs)
                    {
                        var item = PSObject.AsPSObject(pair);
                        Add(table, item.Properties["Key"]?.Value?.ToString(), item.Properties["Value"]?.Value);
                    }

                    break;
            }

            return name => table.TryGetValue(name, out var values) ? values : null;
        }

        private static void Add(Dictionary<string, IReadOnlyList<string>> table, string? key, object? value)
        {
            if (string.IsNullOrEmpty(key)) return;
            var values = new List<string>();
            switch (Unwrap(value))
            {
                case null:
                    break;
                case string text:
                    values.Add(text);
                    break;
                case IEnumerable many:
                    foreach (var one in many)
                    {
                        if (Unwrap(one) is object item) values.Add(item.ToString() ?? string.Empty);
                    }

                    break;
                case object other:
                    values.Add(other.ToString() ?? string.Empty);
                    break;
            }

            if (table.TryGetValue(key!, out var existing))
            {
                // The same header under two spellings (X-Goog-Channel-ID and x-goog-channel-id): both count.
                var merged = new List<string>(existing);
                merged.AddRange(values);
                table[key!] = merged;
            }
            else
            {
                table[key!] = values;
            }
        }

        private static object? Unwrap(object? value) => value is PSObject wrapped ? wrapped.BaseObject : value;
    }

    /// <summary>
    /// An instant whose text (ToString, Export-Csv, string expansion) is ISO 8601 UTC (<c>2026-12-09T10:00:00Z</c>),
    /// which reads back to the same instant under any culture. A plain type, not a DateTimeOffset wrapped with a
    /// PowerShell ToString method: Export-Csv writes one in microseconds, the wrapped kind in about a millisecond, too
    /// slow for a receiver at thousands of notifications a second. It converts to DateTimeOffset and DateTime
    /// (<c>[DateTimeOffset]$n.ReceivedAt</c>), compares with both (<c>$n.ReceivedAt -lt (Get-Date)</c>), and
    /// <see cref="Value"/> is the DateTimeOffset itself.
    /// </summary>
    public sealed class UtcInstant : IComparable, IComparable<UtcInstant>, IEquatable<UtcInstant>, IFormattable
    {
        public UtcInstant(DateTimeOffset value) => Value = value.ToUniversalTime();

        /// <summary>The instant, in UTC.</summary>
        public DateTimeOffset Value { get; }

        public DateTime UtcDateTime => Value.UtcDateTime;

        public DateTime LocalDateTime => Value.LocalDateTime;

        public static implicit operator DateTimeOffset(UtcInstant instant) => instant?.Value ?? default;

        public static implicit operator DateTime(UtcInstant instant) => instant?.Value.UtcDateTime ?? default;

        // PowerShell converts a comparison's right operand to the left one's type: (Get-Date) and DateTimeOffsets become instants.
        public static implicit operator UtcInstant(DateTimeOffset value) => new UtcInstant(value);

        public static implicit operator UtcInstant(DateTime value) =>
            new UtcInstant(value.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Local)) : new DateTimeOffset(value));

        public override string ToString() => ChannelOutput.FormatInstant(Value);

        /// <summary>A .NET format string applies to the instant in UTC; none gives ISO 8601.</summary>
        public string ToString(string? format, IFormatProvider? formatProvider) =>
            string.IsNullOrEmpty(format) ? ToString() : Value.ToString(format, formatProvider);

        public int CompareTo(UtcInstant? other) => other is null ? 1 : Value.CompareTo(other.Value);

        public int CompareTo(object? obj) => obj switch
        {
            null => 1,
            UtcInstant instant => CompareTo(instant),
            DateTimeOffset offset => Value.CompareTo(offset),
            DateTime time => Value.CompareTo(time.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Local)) : new DateTimeOffset(time)),
            PSObject wrapped => CompareTo(wrapped.BaseObject),
            _ => throw new ArgumentException($"Cannot compare an instant with {obj.GetType().Name}.", nameof(obj)),
        };

        public bool Equals(UtcInstant? other) => other is not null && Value.Equals(other.Value);

        public override bool Equals(object? obj) => obj switch
        {
            UtcInstant instant => Equals(instant),
            DateTimeOffset offset => Value.Equals(offset),
            _ => false,
        };

        public override int GetHashCode() => Value.GetHashCode();
    }
}
