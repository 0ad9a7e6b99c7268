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

        public static PSObject ToPSObject(Notification notification)
        {
            var output = PSObject.AsPSObject(notification);
            output.TypeNames.Insert(0, TypeName);
            output.Properties.Add(new PSNoteProperty(nameof(Notification.ReceivedAt), ChannelOutput.Instant(notification.ReceivedAt)));
            if (notification.ChannelExpiration is DateTimeOffset expiration)
            {
                output.Properties.Add(new PSNoteProperty(nameof(Notification.ChannelExpiration), ChannelOutput.Instant(expiration)));
            }

            return output;
        }

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
}
