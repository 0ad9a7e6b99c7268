using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch
{
    /// <summary>
    /// Tab completion from the channel record: the values of one field that the record holds (the file named by the
    /// command's -RecordPath, else CALENDARWATCH_STORE, else the per-user record). A record that does not exist yet is
    /// not created; any failure completes nothing, since a completer must never break the prompt.
    /// </summary>
    public abstract class RecordCompleter : IArgumentCompleter
    {
        private const int MaxResults = 100;

        private readonly ChannelField _field;
        private readonly string _what;

        private protected RecordCompleter(ChannelField field, string what)
        {
            _field = field;
            _what = what;
        }

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
            IReadOnlyList<string> values;
            try
            {
                var path = RecordPath(fakeBoundParameters);
                if (path is null || !File.Exists(path))
                {
                    return Array.Empty<CompletionResult>();
                }

                using var store = ChannelStore.Open(path);
                values = store.Suggest(_field, prefix, MaxResults);
            }
            catch (Exception ex) when (ex is CalendarWatchException || ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException || ex is NotSupportedException || ex is InvalidOperationException || ex is Microsoft.Data.Sqlite.SqliteException)
            {
                return Array.Empty<CompletionResult>();
            }

            return values.Select(value => new CompletionResult(Quote(value), value, CompletionResultType.ParameterValue, _what + " " + value)).ToArray();
        }

        /// <summary>A value as PowerShell needs it typed: bare when it is a plain token, else in single quotes.</summary>
        internal static string Quote(string value)
        {
            foreach (var c in value)
            {
                if (!(char.IsLetterOrDigit(c) || c == '@' || c == '.' || c == '-' || c == '_' || c == '+'))
                {
                    return "'" + value.Replace("'", "''") + "'";
                }
            }

            return value.Length > 0 && value[0] == '@' ? "'" + value + "'" : value;
        }

        private static string? RecordPath(IDictionary fakeBoundParameters)
        {
            var given = fakeBoundParameters?["RecordPath"] as string;
            var fromEnvironment = Environment.GetEnvironmentVariable(ChannelStoreLocation.EnvironmentVariable);
            var path = !string.IsNullOrWhiteSpace(given) ? given!
                : !string.IsNullOrWhiteSpace(fromEnvironment) ? fromEnvironment!.Trim()
                : ChannelStoreLocation.Resolve().Path;
            if (Path.IsPathRooted(path))
            {
                return path;
            }

            // Relative to PowerShell's location, as the commands resolve it.
            var location = Runspace.DefaultRunspace?.SessionStateProxy?.Path?.CurrentFileSystemLocation?.ProviderPath;
            return location is null ? null : Path.Combine(location, path);
        }
    }

    /// <summary>-CalendarId: the calendars the record has channels on.</summary>
    public sealed class CalendarIdCompleter : RecordCompleter
    {
        public CalendarIdCompleter()
            : base(ChannelField.CalendarId, "Calendar")
        {
        }
    }

    /// <summary>-Subject: the users the record's channels were made as.</summary>
    public sealed class SubjectCompleter : RecordCompleter
    {
        public SubjectCompleter()
            : base(ChannelField.Subject, "Subject")
        {
        }
    }

    /// <summary>-Id of Stop-/Update-/Get-CalendarChannel: the live channels (Active, Pending, MayExist) of the record.</summary>
    public sealed class ChannelIdCompleter : RecordCompleter
    {
        public ChannelIdCompleter()
            : base(ChannelField.ChannelId, "Channel")
        {
        }
    }

    /// <summary>Connect-CalendarWatch -Scope: the Calendar scopes, as the short names -Scope takes.</summary>
    public sealed class ScopeCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
            foreach (var scope in Scopes.Known)
            {
                var shortName = Scopes.ShortName(scope);
                if (shortName.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) || scope.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                {
                    yield return new CompletionResult(shortName, shortName, CompletionResultType.ParameterValue, scope);
                }
            }
        }
    }
}
