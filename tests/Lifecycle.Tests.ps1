# Pester 5: the channel lifecycle after a watch — stop and renew — as an admin drives it, from the watch cmdlets'
# output and from channels.csv, against the emulator (./build.ps1 -Task Test builds first).

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $script:session = Start-TestSession -RepositoryRoot (Split-Path -Path $PSScriptRoot -Parent)
    $script:builtManifest = $script:session.Manifest
    $script:emulator = $script:session.Emulator
    $script:receiver = $script:session.Receiver
    $script:address = $script:session.Address

    function New-TestCalendar {
        $id = 'life-{0}@example.com' -f [guid]::NewGuid().ToString('N').Substring(0, 10)
        New-EmulatorCalendar -Emulator $script:emulator -Id $id
        $id
    }

    function Get-ServerChannel {
        param([Parameter(Mandatory)][string]$Id)
        @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.id -eq $Id })
    }

    function Add-CalendarEvent {
        # A change on the calendar, through the emulator's Calendar API: every live events channel on it is notified.
        param([Parameter(Mandatory)][string]$CalendarId)
        $uri = [Uri]::new($script:emulator.BaseUri, 'calendar/v3/calendars/{0}/events' -f [Uri]::EscapeDataString($CalendarId))
        $null = Invoke-RestMethod -Method Post -Uri $uri -ContentType 'application/json' -Body '{"summary":"change"}'
    }
}

AfterAll {
    Stop-TestSession -Session $script:session
}

Describe 'Stop-CalendarChannel' {
    It 'stops the channels of a channels.csv, and a second stop says what a 404 can mean' {
        $calendars = @(New-TestCalendar; New-TestCalendar)
        $csv = Join-Path -Path $TestDrive -ChildPath 'channels.csv'
        $calendars | New-CalendarEventWatch -Address $script:address | Export-Csv -LiteralPath $csv -NoTypeInformation
        $rows = @(Import-Csv -LiteralPath $csv)

        $output = Import-Csv -LiteralPath $csv | Stop-CalendarChannel

        $output | Should -BeNullOrEmpty
        foreach ($row in $rows) {
            (Get-ServerChannel -Id $row.Id)[0].state | Should -Be 'stopped'
        }

        $null = Import-Csv -LiteralPath $csv | Stop-CalendarChannel -ErrorVariable failures -ErrorAction SilentlyContinue
        @($failures).Count | Should -Be 2
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelNotFound,*'
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $failures[0].TargetObject | Should -Be $rows[0].Id
        $failures[0].Exception.Message | Should -Match 'already stopped'
        $failures[0].Exception.Message | Should -Match 'another identity'
    }

    It 'takes -Id and -ResourceId as parameters, and -PassThru writes the channel' {
        $channel = New-CalendarAclWatch -CalendarId (New-TestCalendar) -Address $script:address
        $stopped = Stop-CalendarChannel -Id $channel.Id -ResourceId $channel.ResourceId -PassThru
        $stopped.Id | Should -Be $channel.Id
        $stopped.PSObject.TypeNames[0] | Should -Be 'CalendarWatch.Channel'
        (Get-ServerChannel -Id $channel.Id)[0].state | Should -Be 'stopped'
    }

    It 'stops a channel whose ResourceId was lost, through a probe watch' {
        $calendar = New-TestCalendar
        # Without the record (which would know the ResourceId): only the probe can find it.
        $channel = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -NoRecord
        $lost = $channel | Select-Object Id, CalendarId, Resource, Address

        $lost | Stop-CalendarChannel -NoRecord -Verbose 4>&1 | Out-String | Should -Match 'probing'

        (Get-ServerChannel -Id $channel.Id)[0].state | Should -Be 'stopped'
        @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.calendarId -eq $calendar -and $_.state -eq 'active' }).Count | Should -Be 0
    }

    It 'refuses a row with neither ResourceId nor what finds it' {
        $null = [pscustomobject]@{ Id = 'no-resource-id' } | Stop-CalendarChannel -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidResourceId,*'
    }

    It 'sends nothing under -WhatIf' {
        $channel = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address
        $channel | Stop-CalendarChannel -WhatIf
        (Get-ServerChannel -Id $channel.Id)[0].state | Should -Be 'active'
    }
}

Describe 'Update-CalendarChannel' {
    It 'renews a channel from channels.csv: the new one delivers, the old one stops' {
        $calendar = New-TestCalendar
        $old = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -Token 'tenant=7' -EventType default
        $csv = Join-Path -Path $TestDrive -ChildPath 'renew.csv'
        $old | Export-Csv -LiteralPath $csv -NoTypeInformation

        $new = Import-Csv -LiteralPath $csv | Update-CalendarChannel -TimeToLive (New-TimeSpan -Days 3)

        $new.Id | Should -Not -Be $old.Id
        $new.Replaces | Should -Be $old.Id
        $new.CalendarId | Should -Be $calendar
        $new.Token | Should -Be 'tenant=7'
        $new.EventTypes | Should -Be 'default'
        $new.ResourceId | Should -Be $old.ResourceId
        (Get-ServerChannel -Id $old.Id)[0].state | Should -Be 'stopped'
        (Get-ServerChannel -Id $new.Id)[0].state | Should -Be 'active'

        Add-CalendarEvent -CalendarId $calendar
        $newId = $new.Id
        $null = Wait-WebhookNotification -Receiver $script:receiver -Count 1 -Where { $_.ChannelId -eq $newId -and $_.ResourceState -eq 'exists' }
        @($script:receiver.Notifications.ToArray() | Where-Object { $_.ChannelId -eq $newId -and $_.ResourceState -eq 'exists' }).Count | Should -Be 1
        $oldId = $old.Id
        @($script:receiver.Notifications.ToArray() | Where-Object { $_.ChannelId -eq $oldId -and $_.ResourceState -eq 'exists' }).Count | Should -Be 0
    }

    It 'renews only what expires within -ExpiringWithin' {
        $soon = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address -TimeToLive (New-TimeSpan -Hours 2)
        $later = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address -TimeToLive (New-TimeSpan -Days 6)

        $renewed = @($soon, $later | Update-CalendarChannel -ExpiringWithin (New-TimeSpan -Days 1))

        $renewed.Count | Should -Be 1
        $renewed[0].Replaces | Should -Be $soon.Id
        (Get-ServerChannel -Id $later.Id)[0].state | Should -Be 'active'
    }

    It 'leaves the old channel untouched when the new one is refused' {
        $calendar = New-TestCalendar
        $old = New-CalendarEventWatch -CalendarId $calendar -Address $script:address
        $row = $old | Select-Object *
        $row.CalendarId = 'not-a-calendar-{0}@example.com' -f [guid]::NewGuid().ToString('N').Substring(0, 6)

        $renewed = $row | Update-CalendarChannel -ErrorVariable failures -ErrorAction SilentlyContinue

        $renewed | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.NotFound,*'
        $failures[0].Exception.Message | Should -Match 'was not renewed and keeps working'
        (Get-ServerChannel -Id $old.Id)[0].state | Should -Be 'active'
    }

    It 'sends nothing under -WhatIf' {
        $old = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address
        $before = @(Get-EmulatorChannel -Emulator $script:emulator).Count
        $old | Update-CalendarChannel -WhatIf
        @(Get-EmulatorChannel -Emulator $script:emulator).Count | Should -Be $before
        (Get-ServerChannel -Id $old.Id)[0].state | Should -Be 'active'
    }
}

Describe 'Update-CalendarChannel refuses what would make a wrong or second channel' {
    It 'refuses a row without CalendarId that the record does not know' {
        $old = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address -NoRecord
        $row = $old | Select-Object Id, ResourceId, Resource, Address
        $before = @(Get-EmulatorChannel -Emulator $script:emulator).Count

        $renewed = $row | Update-CalendarChannel -NoRecord -ErrorVariable failures -ErrorAction SilentlyContinue

        $renewed | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidChannel,*'
        $failures[0].Exception.Message | Should -Match 'CalendarId'
        @(Get-EmulatorChannel -Emulator $script:emulator).Count | Should -Be $before
        (Get-ServerChannel -Id $old.Id)[0].state | Should -Be 'active'
    }

    It 'skips a channel the record says was already replaced, naming its successor' {
        $old = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address
        $new = $old | Update-CalendarChannel
        $before = @(Get-EmulatorChannel -Emulator $script:emulator).Count

        $again = $old | Update-CalendarChannel -WarningVariable warnings 3>$null

        $again | Should -BeNullOrEmpty
        $warnings[0].Message | Should -Match ([regex]::Escape($new.Id))
        @(Get-EmulatorChannel -Emulator $script:emulator).Count | Should -Be $before
    }
}
