using System;
using System.Globalization;
using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>
    /// How a <see cref="Channel"/> goes out: with the PSTypeName the format file's views select, and with its
    /// Expiration culture-proof. Expiration stays a DateTimeOffset for the script (compare it, add to it), but its
    /// text — what Export-Csv, ConvertTo-Csv and string expansion write — is ISO 8601 in UTC
    /// (<c>2026-12-09T10:00:00Z</c>), which reads back to the same instant under any culture. (Export-Csv would
    /// otherwise write the current culture's form: <c>09.12.2026 10:00:00</c> under de-DE, read back as 12 September.)
    /// </summary>
    public static class ChannelOutput
    {
        /// <summary>The type name CalendarWatch.Format.ps1xml names.</summary>
        public const string TypeName = "CalendarWatch.Channel";

        /// <summary>The text form of every instant CalendarWatch writes: ISO 8601, UTC, whole seconds unless there are more.</summary>
        public static string FormatInstant(DateTimeOffset value)
        {
            var utc = value.ToUniversalTime();
            return utc.ToString(utc.Millisecond == 0 ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        }

        public static PSObject ToPSObject(Channel channel)
        {
            var output = PSObject.AsPSObject(channel);
            if (!output.TypeNames.Contains(TypeName))
            {
                output.TypeNames.Insert(0, TypeName);
            }

            if (channel.Expiration is DateTimeOffset expiration)
            {
                // An instance property shadows the adapted one of the same name.
                output.Properties.Add(new PSNoteProperty(nameof(Channel.Expiration), Instant(expiration)));
            }

            return output;
        }

        /// <summary>A DateTimeOffset whose text (ToString, Export-Csv) is <see cref="FormatInstant"/>'s.</summary>
        public static PSObject Instant(DateTimeOffset value)
        {
            var wrapped = new PSObject(value.ToUniversalTime());
            wrapped.Methods.Add(new PSCodeMethod("ToString", typeof(ChannelOutput).GetMethod(nameof(InstantText))!));
            return wrapped;
        }

        /// <summary>The ToString of <see cref="Instant"/> objects (a PowerShell code method: public, static, PSObject first).</summary>
        public static string InstantText(PSObject instance) =>
            instance?.BaseObject is DateTimeOffset value ? FormatInstant(value) : instance?.BaseObject?.ToString() ?? string.Empty;
    }
}
