# Pester 5: the default views as a console 80 columns wide shows them (Out-String -Width 80): every table line fits
# and shows the columns that matter; list views show every property but the channel token. Run through
# ./build.ps1 -Task Test.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $script:session = Start-TestSession -RepositoryRoot $repositoryRoot
    $script:savedStore = $env:CALENDARWATCH_STORE
    $script:record = Join-Path -Path $TestDrive -ChildPath 'format.db'
    $env:CALENDARWATCH_STORE = $script:record

    # Long values, as real ones are: a resource calendar's id (47 characters), GUID channel ids.
    $script:calendars = @('room-4th-floor-large-boardroom@resource.calendar.google.com', 'alice@example.com')
    foreach ($calendar in $script:calendars) {
        New-EmulatorCalendar -Emulator $script:session.Emulator -Id $calendar
    }
    $script:channels = @(
        $script:calendars | New-CalendarEventWatch -Address $script:session.Address -Token 'format-secret-token-1' -EventType default, workingLocation
        $script:calendars[0] | New-CalendarAclWatch -Address $script:session.Address -Token 'format-secret-token-1'
    )
    $script:records = @(Get-CalendarChannel)

    function Assert-FitsIn80 {
        param([Parameter(Mandatory)][string]$Text)
        foreach ($line in ($Text -split "\r?\n")) {
            $line.TrimEnd().Length | Should -BeLessOrEqual 80 -Because "'$line' is wider than 80 columns"
        }
    }
}

AfterAll {
    $env:CALENDARWATCH_STORE = $script:savedStore
    Stop-TestSession -Session $script:session
}

Describe 'Default views' {
    It 'shows channels as a table of calendar, resource, expiry (UTC) and id within 80 columns' {
        $table = $script:channels | Out-String -Width 80
        Assert-FitsIn80 -Text $table
        $header = ($table -split "\r?\n" | Where-Object { $_ -match '\S' })[0]
        $header | Should -Match '^CalendarId\s+Resource\s+Expires \(UTC\)\s+Id\s*$'
        $table | Should -Match 'alice@example.com\s+Events\s+\d{4}-\d\d-\d\d \d\d:\d\d\s'
        $table | Should -Match 'Acl'
        $expires = ([DateTimeOffset]$script:channels[1].Expiration).UtcDateTime.ToString('yyyy-MM-dd HH:mm', [cultureinfo]::InvariantCulture)
        $table | Should -Match ([regex]::Escape($expires))
        $table | Should -Match ([regex]::Escape($script:channels[1].Id.Substring(0, 15)))
        $table | Should -Not -Match 'format-secret-token-1'
    }

    It 'shows the channel record as a table of state, calendar, resource, expiry and channel id within 80 columns' {
        $table = $script:records | Out-String -Width 80
        Assert-FitsIn80 -Text $table
        $header = ($table -split "\r?\n" | Where-Object { $_ -match '\S' })[0]
        $header | Should -Match '^State\s+CalendarId\s+Resource\s+Expires \(UTC\)\s+ChannelId\s*$'
        $table | Should -Match 'Active\s+alice@example.com\s+Events\s+\d{4}-\d\d-\d\d \d\d:\d\d\s'
        $table | Should -Not -Match 'format-secret-token-1'
    }

    It 'lists every property of a channel but its token' {
        $list = $script:channels[0] | Format-List | Out-String -Width 200
        foreach ($property in $script:channels[0].PSObject.Properties.Name | Where-Object { $_ -ne 'Token' }) {
            $list | Should -Match "(?m)^$property\s+:" -Because "the list view shows $property"
        }
        $list | Should -Match ([regex]::Escape($script:channels[0].ResourceId))
        $list | Should -Match 'default,workingLocation'
        $list | Should -Not -Match 'format-secret-token-1'
    }

    It 'lists every property of a recorded channel but its token' {
        $list = $script:records[0] | Format-List | Out-String -Width 200
        foreach ($property in $script:records[0].PSObject.Properties.Name | Where-Object { $_ -notin @('Token', 'IsLive') }) {
            $list | Should -Match "(?m)^$property\s+:" -Because "the list view shows $property"
        }
        $list | Should -Not -Match 'format-secret-token-1'
    }

    It 'lists every property of the connection, the proxy included' {
        $list = Get-CalendarWatchConnection | Out-String -Width 80
        Assert-FitsIn80 -Text $list
        foreach ($property in @('Kind', 'Account', 'DefaultSubject', 'Scopes', 'Endpoint', 'Proxy', 'MaxRetry', 'RetryTimeLimit')) {
            $list | Should -Match "(?m)^$property\s+:"
        }
        $list | Should -Match 'Proxy\s+: the system proxy'
    }
}
