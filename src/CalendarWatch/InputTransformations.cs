using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace CalendarWatch
{
    /// <summary>
    /// -CalendarId from a hashtable row (<c>@{ CalendarId = 'primary' } | New-CalendarEventWatch ...</c>): PowerShell
    /// binds only objects' properties, so a hashtable would otherwise be sent as the calendar
    /// <c>System.Collections.Hashtable</c>. A dictionary whose only keys name the calendar (CalendarId, ResourceEmail,
    /// PrimaryEmail) binds its value; one with any other key is refused, since those keys (Address, Subject, ...)
    /// would be silently ignored. Everything else passes through unchanged.
    /// </summary>
    public sealed class CalendarIdTransformationAttribute : ArgumentTransformationAttribute
    {
        private static readonly string[] CalendarKeys = { "CalendarId", "ResourceEmail", "PrimaryEmail" };

        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
            if (!(value is IDictionary dictionary))
            {
                return inputData;
            }

            var keys = dictionary.Keys.Cast<object>().Select(k => k?.ToString() ?? string.Empty).ToArray();
            var calendarKeys = keys.Where(k => CalendarKeys.Contains(k, StringComparer.OrdinalIgnoreCase)).ToArray();
            var otherKeys = keys.Except(calendarKeys, StringComparer.Ordinal).ToArray();
            if (calendarKeys.Length == 1 && otherKeys.Length == 0)
            {
                return dictionary[keys.First(k => string.Equals(k, calendarKeys[0], StringComparison.Ordinal))];
            }

            var found = keys.Length == 0 ? "no keys" : "the keys " + string.Join(", ", keys);
            throw new ArgumentTransformationMetadataException(
                $"The input is a hashtable with {found}. PowerShell binds the properties of objects, not the keys of a hashtable, so the other keys would be ignored. " +
                "Pipe objects instead: [pscustomobject]@{ CalendarId = 'primary'; Address = 'https://...' }, or Import-Csv rows.");
        }
    }

    /// <summary>
    /// -EventType from a CSV row: the watch cmdlets write EventTypes as one comma-separated text ("default,focusTime";
    /// empty = every type), so Import-Csv gives it back as one string. Splits such text into the list; an empty value
    /// means every type.
    /// </summary>
    public sealed class EventTypeListTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
            IEnumerable<object?> items = value switch
            {
                null => Array.Empty<object?>(),
                string text => new object?[] { text },
                IEnumerable sequence => sequence.Cast<object?>(),
                _ => new[] { value },
            };
            return items
                .Select(i => (i is PSObject p ? p.BaseObject : i)?.ToString() ?? string.Empty)
                .SelectMany(t => t.Split(','))
                .Select(t => t.Trim())
                .Where(t => t.Length > 0)
                .ToArray();
        }
    }
}
