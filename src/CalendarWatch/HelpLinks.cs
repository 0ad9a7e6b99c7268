namespace CalendarWatch
{
    /// <summary>
    /// Where each cmdlet's online help lives (Get-Help -Online): docs/help/&lt;Command&gt;.md on the manifest's ProjectUri.
    /// The help build (docs/New-MamlHelp.ps1) refuses a cmdlet whose HelpUri is not this base plus its name.
    /// </summary>
    internal static class HelpLinks
    {
        public const string Base = "https://github.com/calendarwatch/CalendarWatch/blob/main/docs/help/";
    }
}
