using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>How an engine failure becomes a PowerShell error record: one place for every cmdlet.</summary>
    internal static class ErrorRecords
    {
        /// <summary>Maps the engine's failure kinds onto PowerShell's error categories.</summary>
        public static ErrorCategory CategoryFor(FailureKind kind)
        {
            switch (kind)
            {
                case FailureKind.InvalidArgument: return ErrorCategory.InvalidArgument;
                case FailureKind.ObjectNotFound: return ErrorCategory.ObjectNotFound;
                case FailureKind.PermissionDenied: return ErrorCategory.PermissionDenied;
                case FailureKind.AuthenticationError: return ErrorCategory.AuthenticationError;
                case FailureKind.LimitsExceeded: return ErrorCategory.LimitsExceeded;
                case FailureKind.ResourceUnavailable: return ErrorCategory.ResourceUnavailable;
                // "This calendar cannot be watched": the operation is invalid for this target.
                case FailureKind.NotSupported: return ErrorCategory.InvalidOperation;
                case FailureKind.ResourceExists: return ErrorCategory.ResourceExists;
                case FailureKind.ConnectionError: return ErrorCategory.ConnectionError;
                case FailureKind.OperationTimeout: return ErrorCategory.OperationTimeout;
                case FailureKind.OperationStopped: return ErrorCategory.OperationStopped;
                case FailureKind.InvalidResult: return ErrorCategory.InvalidResult;
                default: return ErrorCategory.NotSpecified;
            }
        }

        /// <summary>
        /// One record for one failed item: ErrorId from the exception (naming Google's reason), the category for its
        /// kind, the calendar id as target, and the exception's message (which never holds a token).
        /// </summary>
        public static ErrorRecord From(CalendarWatchException exception, object? target)
            => new ErrorRecord(exception, exception.ErrorId, CategoryFor(exception.Kind), (object?)exception.CalendarId ?? target);

        /// <summary>
        /// The record for one failed item, whatever failed: the engine's failures keep their ErrorId and kind; bad
        /// input caught by .NET is InvalidArgument; a cancellation from inside the item is OperationStopped; anything
        /// else (a bug, an environment failure) is reported against the item so the others go on.
        /// </summary>
        public static ErrorRecord ForFailure(System.Exception? exception, object? target)
        {
            switch (exception)
            {
                case CalendarWatchException calendarError:
                    // The command knows what its item is (a calendar for watches, a channel for stop and renew).
                    return new ErrorRecord(calendarError, calendarError.ErrorId, CategoryFor(calendarError.Kind), target ?? calendarError.CalendarId);
                case System.ArgumentException argumentError:
                    return InvalidArgument("CalendarWatch.InvalidArgument", argumentError, target);
                case System.OperationCanceledException cancelled:
                    return From(new CalendarWatchException("CalendarWatch.OperationCanceled", FailureKind.OperationStopped, "The operation was cancelled before it finished.", cancelled), target);
                default:
                    return new ErrorRecord(exception ?? new System.InvalidOperationException("The operation failed without an exception."), "CalendarWatch.UnexpectedError", ErrorCategory.NotSpecified, target);
            }
        }

        /// <summary>A record for bad input caught in the module itself (the engine's own checks come as <see cref="From"/>).</summary>
        public static ErrorRecord InvalidArgument(string errorId, System.Exception exception, object? target)
            => new ErrorRecord(exception, errorId, ErrorCategory.InvalidArgument, target);

        /// <summary>The same for a message: the exception is an <see cref="System.ArgumentException"/>.</summary>
        public static ErrorRecord InvalidArgument(string errorId, string message, object? target)
            => InvalidArgument(errorId, new System.ArgumentException(message), target);
    }
}
