using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Language;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>
    /// Tab-completes -EventType with the values Google documents (CalendarApiClient.KnownEventTypes). A completer, not
    /// a ValidateSet, so a value Google adds later still passes through to the API.
    /// </summary>
    public sealed class EventTypeCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
            foreach (var eventType in CalendarApiClient.KnownEventTypes)
            {
                if (eventType.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                {
                    yield return new CompletionResult(eventType, eventType, CompletionResultType.ParameterValue, "Event type " + eventType);
                }
            }
        }
    }
}
