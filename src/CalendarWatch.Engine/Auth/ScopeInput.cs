using System;
using System.Collections.Generic;
using System.Linq;

namespace CalendarWatch.Engine.Auth
{
    /// <summary>
    /// Checks the scopes a person typed (<c>Connect-CalendarWatch -Scope</c>): one Calendar scope per value, as a full
    /// URL or a short name. Anything else is refused with <c>CalendarWatch.InvalidScope</c> naming the value as given
    /// and, for a near miss, the closest Calendar scope; a value is never split into several scopes.
    /// </summary>
    internal static class ScopeInput
    {
        private static readonly char[] Separators = { ' ', ',', '\t', '\r', '\n', ';' };

        /// <summary>The full scope URL for <paramref name="given"/>, or a <see cref="CalendarWatchException"/>.</summary>
        public static string Validate(string given)
        {
            var trimmed = (given ?? string.Empty).Trim();
            if (trimmed.Length == 0)
            {
                throw Invalid($"A -Scope value is empty. {Advice}");
            }

            if (trimmed.IndexOfAny(Separators) >= 0)
            {
                var parts = trimmed.Split(Separators, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > 1 && parts.All(part => Scopes.IsKnown(ScopeList.Complete(part))))
                {
                    throw Invalid($"The -Scope value '{given}' holds {parts.Length} scopes in one value. Give each scope as a value of its own: -Scope {string.Join(", ", parts.Select(part => Scopes.ShortName(ScopeList.Complete(part))))}.");
                }

                var what = trimmed.IndexOf(',') >= 0 ? "a comma" : trimmed.IndexOf(';') >= 0 ? "a semicolon" : "a space";
                throw Invalid($"The -Scope value '{given}' contains {what}, which no scope does. Give one scope per value, for example -Scope calendar.events.readonly, calendar.acls.readonly. {Advice}");
            }

            var full = ScopeList.Complete(trimmed);
            if (Scopes.IsKnown(full))
            {
                return full;
            }

            var closest = Closest(trimmed);
            var suggestion = closest is null ? string.Empty : $" Did you mean {closest}?";
            throw Invalid($"The scope '{given}' is not a Google Calendar scope.{suggestion} {Advice}");
        }

        private static string Advice =>
            $"Calendar scopes, by short name or as {Scopes.Prefix}<name>: {string.Join(", ", Scopes.Known.Select(Scopes.ShortName))}.";

        private static CalendarWatchException Invalid(string message) =>
            new CalendarWatchException("CalendarWatch.InvalidScope", FailureKind.InvalidArgument, message);

        /// <summary>
        /// The Calendar scope nearest to <paramref name="given"/> by edit distance (case ignored), in the form it was
        /// given (a full URL for a URL, else a short name); null when none is near enough to be a misspelling.
        /// </summary>
        private static string? Closest(string given)
        {
            var isUrl = given.IndexOf("://", StringComparison.Ordinal) >= 0;
            // Under Google's prefix, compare what follows it: the shared prefix would make every distance look small.
            var underPrefix = given.StartsWith(Scopes.Prefix, StringComparison.OrdinalIgnoreCase);
            var compared = (underPrefix ? given.Substring(Scopes.Prefix.Length) : given).ToLowerInvariant();
            string? best = null;
            var bestDistance = int.MaxValue;
            foreach (var known in Scopes.Known)
            {
                var candidate = (isUrl && !underPrefix ? known : Scopes.ShortName(known)).ToLowerInvariant();
                var distance = EditDistance(compared, candidate);
                if (distance < bestDistance)
                {
                    bestDistance = distance;
                    best = known;
                }
            }

            var nearEnough = Math.Max(2, ShortLength(given) / 4);
            if (best is null || bestDistance > nearEnough)
            {
                return null;
            }

            return isUrl ? best : Scopes.ShortName(best);
        }

        private static int ShortLength(string given) =>
            given.StartsWith(Scopes.Prefix, StringComparison.OrdinalIgnoreCase) ? given.Length - Scopes.Prefix.Length : given.Length;

        /// <summary>Levenshtein distance: insertions, deletions and substitutions, one each.</summary>
        private static int EditDistance(string a, string b)
        {
            var previous = new int[b.Length + 1];
            var current = new int[b.Length + 1];
            for (var j = 0; j <= b.Length; j++) previous[j] = j;
            for (var i = 1; i <= a.Length; i++)
            {
                current[0] = i;
                for (var j = 1; j <= b.Length; j++)
                {
                    var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                    current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
                }

                var swap = previous;
                previous = current;
                current = swap;
            }

            return previous[b.Length];
        }
    }
}
