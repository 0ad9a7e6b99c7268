using System;
using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>
    /// Lets -Connection take what Connect-CalendarWatch -PassThru and Get-CalendarWatchConnection return
    /// (<see cref="ConnectionInfo"/>) or an engine <see cref="CalendarConnection"/> built in a script.
    /// </summary>
    public sealed class ConnectionTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
            switch (value)
            {
                case null:
                    return null;
                case ConnectionInfo info:
                    return info;
                case CalendarConnection connection:
                    return new ConnectionInfo(connection);
                default:
                    throw new ArgumentTransformationMetadataException(
                        $"-Connection takes what Connect-CalendarWatch -PassThru returns (CalendarWatch.ConnectionInfo), not {value.GetType().FullName}. For example: $a = Connect-CalendarWatch -KeyFile a.json -NoStore; New-CalendarEventWatch ... -Connection $a.");
            }
        }
    }
}
