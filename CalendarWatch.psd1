@{
    RootModule           = 'CalendarWatch.psm1'
    ModuleVersion        = '0.1.0'
    CompatiblePSEditions = @('Desktop', 'Core')
    GUID                 = '6f4f0c1e-8c9d-4b7a-9a61-2f3f1f5d9c21'
    Author               = 'CalendarWatch contributors'
    CompanyName          = 'CalendarWatch'
    Copyright            = '(c) CalendarWatch contributors. All rights reserved.'
    Description          = 'Create, record, renew and stop Google Calendar push-notification channels (events.watch, acl.watch) from PowerShell.'
    PowerShellVersion    = '5.1'
    DotNetFrameworkVersion = '4.7.2'
    FormatsToProcess     = @('CalendarWatch.Format.ps1xml')
    FunctionsToExport    = @()
    CmdletsToExport      = @(
        'Connect-CalendarWatch'
        'Disconnect-CalendarWatch'
        'Get-CalendarChannel'
        'Stop-CalendarChannel'
        'Update-CalendarChannel'
        'Get-CalendarWatchConnection'
        'New-CalendarAclWatch'
        'New-CalendarEventWatch'
        'New-CalendarListWatch'
        'New-CalendarSettingsWatch'
        'Receive-CalendarNotification'
        'ConvertFrom-CalendarNotification'
        'Start-CalendarWatchEmulator'
        'Stop-CalendarWatchEmulator'
    )
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            # build.ps1 -Task Package adds PSCmdlet_<name>, PSCommand_<name> and PSIncludes_Cmdlet for every cmdlet
            # exported, and ReleaseNotes from CHANGELOG.md, to the packaged copy of this manifest.
            Tags         = @('Google', 'GoogleCalendar', 'Calendar', 'Workspace', 'GSuite', 'PushNotifications', 'Webhook', 'Watch', 'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            ProjectUri   = 'https://github.com/calendarwatch/CalendarWatch'
            LicenseUri   = 'https://github.com/calendarwatch/CalendarWatch/blob/main/LICENSE'
        }
    }
}
