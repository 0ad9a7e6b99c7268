using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch
{
    /// <summary>How a <see cref="Channel"/> goes out: with the PSTypeName the format file's table view selects.</summary>
    public static class ChannelOutput
    {
        /// <summary>The type name CalendarWatch.Format.ps1xml names.</summary>
        public const string TypeName = "CalendarWatch.Channel";

        public static PSObject ToPSObject(Channel channel)
        {
            var output = PSObject.AsPSObject(channel);
            if (!output.TypeNames.Contains(TypeName))
            {
                output.TypeNames.Insert(0, TypeName);
            }

            return output;
        }
    }
}
