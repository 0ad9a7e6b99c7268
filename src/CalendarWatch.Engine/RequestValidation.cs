using System;
using System.Globalization;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// Checks made before anything is sent. Each failure is a <see cref="CalendarWatchException"/> of kind
    /// InvalidArgument (phase NotSent) whose message names the value and what to do; none echoes a password.
    /// </summary>
    public static class RequestValidation
    {
        public const int MaxChannelIdLength = 64;
        public const int MaxTokenLength = 256;

        /// <summary>
        /// The longest lifetime the API accepts at all (longer asks are refused with pushInvalidTtl). Google shortens
        /// anything over its own cap (about 30 days) to that cap; the returned Expiration is the truth.
        /// </summary>
        public static readonly TimeSpan MaxTimeToLive = TimeSpan.FromDays(3650);

        /// <summary>
        /// Everything about a watch request that does not depend on the connection: calendar id, channel id, token,
        /// address form, lifetime and event types. The cmdlets run it before -Verbose and ShouldProcess echo anything.
        /// </summary>
        public static void ValidateInput(WatchRequest request, DateTimeOffset now)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            var method = ApiMethod.Watch(request.Resource);
            var calendarId = request.CalendarId;
            if (method.TakesCalendarId)
            {
                ValidateCalendarId(calendarId, request.ChannelId);
            }

            ValidateChannelId(request.ChannelId, calendarId);
            if (request.Token != null)
            {
                if (request.Token.Length > MaxTokenLength)
                {
                    throw Invalid("CalendarWatch.InvalidToken", $"The channel token is {request.Token.Length} characters long; Google allows at most {MaxTokenLength}.", calendarId, request.ChannelId);
                }

                if (IndexOfControl(request.Token) is int at)
                {
                    throw Invalid("CalendarWatch.InvalidToken", $"The channel token contains a control character ({Describe(request.Token[at])} at position {at + 1}); Google sends the token back as the X-Goog-Channel-Token header of every notification, where line breaks and NUL cannot travel. Give a token of printable characters.", calendarId, request.ChannelId);
                }
            }

            ValidateAddressForm(request.Address, calendarId, request.ChannelId);

            if (request.TimeToLive.HasValue && request.ExpiresAt.HasValue)
            {
                throw Invalid("CalendarWatch.InvalidTtl", "Give a time to live or an expiry time, not both.", calendarId, request.ChannelId);
            }

            if (request.TimeToLive is TimeSpan ttl)
            {
                if (ttl <= TimeSpan.Zero)
                {
                    throw Invalid("CalendarWatch.InvalidTtl", $"The time to live {ttl} is not positive. Give a lifetime such as (New-TimeSpan -Days 7).", calendarId, request.ChannelId);
                }

                if (ttl > MaxTimeToLive)
                {
                    throw Invalid("CalendarWatch.InvalidTtl", string.Format(CultureInfo.InvariantCulture,
                        "The time to live of {0:0.#} days is longer than the API accepts ({1:0} days); Google refuses it. Channels live at most about 30 days anyway (Google shortens longer lifetimes): give -TimeToLive (New-TimeSpan -Days 30) or less, and renew before expiry.",
                        ttl.TotalDays, MaxTimeToLive.TotalDays), calendarId, request.ChannelId);
                }
            }

            if (request.ExpiresAt is DateTimeOffset expiresAt)
            {
                if (expiresAt <= now)
                {
                    throw Invalid("CalendarWatch.InvalidExpiresAt", $"The expiry time {expiresAt.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)} is not in the future (now {now.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}). Give a later -ExpiresAt, or -TimeToLive.", calendarId, request.ChannelId);
                }

                if (expiresAt - now > MaxTimeToLive)
                {
                    throw Invalid("CalendarWatch.InvalidExpiresAt", string.Format(CultureInfo.InvariantCulture,
                        "The expiry time is more than {0:0} days away; Google refuses it. Channels live at most about 30 days anyway: give an -ExpiresAt within 30 days, and renew before expiry.", MaxTimeToLive.TotalDays), calendarId, request.ChannelId);
                }
            }

            foreach (var eventType in request.EventTypes)
            {
                if (string.IsNullOrWhiteSpace(eventType) || IndexOfControl(eventType) != null)
                {
                    throw Invalid("CalendarWatch.InvalidEventType", "An event type is empty or not printable. Give values such as " + string.Join(", ", CalendarApiClient.KnownEventTypes) + ".", calendarId, request.ChannelId);
                }
            }
        }

        /// <summary>A calendar id that names a calendar and can never change the request's path.</summary>
        public static void ValidateCalendarId(string? calendarId, string? channelId = null)
        {
            if (string.IsNullOrWhiteSpace(calendarId))
            {
                throw Invalid("CalendarWatch.InvalidCalendarId", "The calendar id is empty. Give a calendar id such as 'primary' or 'room-1@resource.calendar.google.com'.", calendarId, channelId);
            }

            if (calendarId == "." || calendarId == "..")
            {
                throw Invalid("CalendarWatch.InvalidCalendarId", $"'{calendarId}' is not a calendar id. Give a calendar id such as 'primary', an email address, or 'xyz@group.calendar.google.com'.", calendarId, channelId);
            }

            if (!string.Equals(calendarId, "primary", StringComparison.Ordinal) && string.Equals(calendarId!.Trim(), "primary", StringComparison.OrdinalIgnoreCase))
            {
                throw Invalid("CalendarWatch.InvalidCalendarId", $"The calendar id '{calendarId}' is not the keyword for the caller's primary calendar: the keyword is lower-case, 'primary'.", calendarId, channelId);
            }

            if (IndexOfControl(calendarId!) is int at)
            {
                throw Invalid("CalendarWatch.InvalidCalendarId", $"The calendar id contains a control character ({Describe(calendarId![at])} at position {at + 1}). Give the id as Google shows it (Calendar settings > Integrate calendar > Calendar ID).", calendarId, channelId);
            }
        }

        /// <summary>A channel id Google accepts and that can travel as the X-Goog-Channel-ID header.</summary>
        public static void ValidateChannelId(string? channelId, string? calendarId = null)
        {
            if (string.IsNullOrEmpty(channelId))
            {
                throw Invalid("CalendarWatch.InvalidChannelId", "The channel id is empty. Omit -ChannelId to get a new GUID, or give a unique id of at most 64 characters.", calendarId, channelId);
            }

            if (channelId!.Length > MaxChannelIdLength)
            {
                throw Invalid("CalendarWatch.InvalidChannelId", $"The channel id '{channelId}' is {channelId.Length} characters long; Google allows at most {MaxChannelIdLength}.", calendarId, channelId);
            }

            if (IndexOfControl(channelId) is int at)
            {
                throw Invalid("CalendarWatch.InvalidChannelId", $"The channel id contains a control character ({Describe(channelId[at])} at position {at + 1}); Google sends the id back as the X-Goog-Channel-ID header of every notification, where line breaks and NUL cannot travel. Omit -ChannelId to get a new GUID, or give printable characters.", calendarId, null);
            }
        }

        /// <summary>
        /// An absolute http(s) URL without userinfo (a password would be echoed in output, -Verbose and CSV, and sent
        /// to Google) and without a fragment (never sent to a receiver).
        /// </summary>
        public static void ValidateAddressForm(Uri? address, string? calendarId, string? channelId)
        {
            if (address is null || !address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttps && address.Scheme != Uri.UriSchemeHttp))
            {
                throw Invalid("CalendarWatch.InvalidAddress", $"The address '{Redact(address)}' is not an absolute https URL. Give the https URL of your webhook receiver, such as https://hooks.example.com/calendar.", calendarId, channelId);
            }

            if (!string.IsNullOrEmpty(address.UserInfo))
            {
                throw Invalid("CalendarWatch.InvalidAddress", $"The address '{Redact(address)}' carries a user name or password. Google would store it and it would show in output, -Verbose and CSV; give the address without it and protect the receiver with the channel -Token and HTTPS instead.", calendarId, channelId);
            }

            if (!string.IsNullOrEmpty(address.Fragment) || address.OriginalString.IndexOf('#') >= 0)
            {
                throw Invalid("CalendarWatch.InvalidAddress", $"The address '{Redact(address)}' has a fragment (#...), which is never sent to a receiver. Give the address without it.", calendarId, channelId);
            }
        }

        /// <summary>Plain http only where the connection allows it (the emulator, or an API endpoint on loopback).</summary>
        public static void ValidateAddressScheme(Uri address, bool allowHttpAddresses, string? calendarId, string? channelId)
        {
            if (address.Scheme == Uri.UriSchemeHttps || (address.Scheme == Uri.UriSchemeHttp && allowHttpAddresses))
            {
                return;
            }

            throw Invalid("CalendarWatch.InvalidAddress", $"The address '{Redact(address)}' is not https. Google delivers only to https addresses with a certificate from a trusted CA; plain http is accepted only when connected to the emulator or an API endpoint on loopback.", calendarId, channelId);
        }

        /// <summary>The address as it may be shown: any userinfo replaced by ***.</summary>
        public static string Redact(Uri? address)
        {
            if (address is null) return string.Empty;
            if (!address.IsAbsoluteUri) return address.OriginalString.IndexOf('@') >= 0 ? "(an address with '@' before the host)" : address.OriginalString;
            return string.IsNullOrEmpty(address.UserInfo) ? address.OriginalString : address.Scheme + "://***@" + address.Authority + address.PathAndQuery + address.Fragment;
        }

        private static int? IndexOfControl(string value)
        {
            for (var i = 0; i < value.Length; i++)
            {
                if (char.IsControl(value[i])) return i;
            }

            return null;
        }

        private static string Describe(char c) => c switch
        {
            '\r' => "CR",
            '\n' => "LF",
            '\0' => "NUL",
            '\t' => "TAB",
            _ => "U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture),
        };

        internal static CalendarWatchException Invalid(string errorId, string message, string? calendarId, string? channelId) =>
            new CalendarWatchException(errorId, FailureKind.InvalidArgument, message) { CalendarId = calendarId, ChannelId = channelId };
    }
}
