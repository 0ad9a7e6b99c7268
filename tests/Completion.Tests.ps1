# Pester 5: tab completion (TabExpansion2, what the console's Tab key calls) of -CalendarId, -Subject and channel ids
# from the channel record, -Scope from the Calendar scopes and -EventType. The record is one of this suite's own,
# filled by real watches against the emulator started with auth. Run through ./build.ps1 -Task Test.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    Import-Module -Name (Get-BuiltModuleManifest -RepositoryRoot $repositoryRoot) -Force

    $script:savedStore = $env:CALENDARWATCH_STORE
    $script:record = Join-Path -Path $TestDrive -ChildPath 'completion.db'
    $env:CALENDARWATCH_STORE = $script:record

    $script:emulator = Start-CalendarEmulator -RepositoryRoot $repositoryRoot -WithAuth
    $suffix = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:alice = "alice-$suffix@example.com"
    $script:bob = "bob-$suffix@example.com"
    $account = New-EmulatorServiceAccount -Emulator $script:emulator -KeyPath (Join-Path -Path $TestDrive -ChildPath 'completion.json') `
        -ClientEmail "completion-$suffix@pester-project.iam.gserviceaccount.com" -Subject $script:alice, $script:bob
    $script:room = "room-$suffix@resource.calendar.google.com"
    New-EmulatorCalendar -Emulator $script:emulator -Id $script:alice -Owner $script:alice
    New-EmulatorCalendar -Emulator $script:emulator -Id $script:bob -Owner $script:bob
    New-EmulatorCalendar -Emulator $script:emulator -Id $script:room -Owner $script:alice

    Connect-CalendarWatch -KeyFile $account.KeyPath -ApiEndpoint $script:emulator.BaseUri -Subject $script:alice
    $hook = 'http://127.0.0.1:9/hook'
    $script:channels = @(
        $script:alice | New-CalendarEventWatch -Address $hook -ChannelId "cw-alice-$suffix"
        $script:room | New-CalendarEventWatch -Address $hook -ChannelId "cw-room-$suffix"
        [pscustomobject]@{ CalendarId = $script:bob; Subject = $script:bob } | New-CalendarAclWatch -Address $hook -ChannelId "cw-bob-$suffix"
    )
    $script:suffix = $suffix
    # One channel no longer live: stopped channels are not offered to Stop- or Update-.
    $script:channels[0] | Stop-CalendarChannel

    function Get-Completion {
        param([Parameter(Mandatory)][string]$Line)
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText)
    }
}

AfterAll {
    Disconnect-CalendarWatch
    $env:CALENDARWATCH_STORE = $script:savedStore
    Stop-CalendarEmulator -Emulator $script:emulator
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

Describe 'Tab completion' {
    It 'completes -CalendarId of the watch and record commands from the calendars the record holds' {
        Get-Completion "New-CalendarEventWatch -CalendarId room-$($script:suffix)" | Should -Be @($script:room)
        Get-Completion "Get-CalendarChannel -CalendarId alice-$($script:suffix)" | Should -Be @($script:alice)
        $all = Get-Completion 'New-CalendarAclWatch -CalendarId '
        foreach ($calendar in @($script:alice, $script:bob, $script:room)) {
            $all | Should -Contain $calendar
        }
    }

    It 'completes -Subject from the users the record''s channels were made as' {
        Get-Completion "New-CalendarEventWatch -Subject bob-$($script:suffix)" | Should -Be @($script:bob)
        Get-Completion "Get-CalendarChannel -Subject ALICE-$($script:suffix)" | Should -Be @($script:alice)
    }

    It 'completes channel ids of Stop-, Update- and Get-CalendarChannel with the live channels only' {
        foreach ($command in @('Stop-CalendarChannel', 'Update-CalendarChannel', 'Get-CalendarChannel')) {
            $ids = Get-Completion "$command -Id cw-"
            $ids | Should -Contain "cw-room-$($script:suffix)"
            $ids | Should -Contain "cw-bob-$($script:suffix)"
            $ids | Should -Not -Contain "cw-alice-$($script:suffix)"
        }
    }

    It 'reads the record -RecordPath names, and completes nothing (creating nothing) for a record that does not exist' {
        $missing = Join-Path -Path $TestDrive -ChildPath 'no-such-record.db'
        Get-Completion "Get-CalendarChannel -RecordPath '$missing' -CalendarId room-" | Should -BeNullOrEmpty
        Test-Path -LiteralPath $missing | Should -BeFalse
        Get-Completion "Get-CalendarChannel -RecordPath '$($script:record)' -CalendarId room-$($script:suffix)" | Should -Be @($script:room)
    }

    It 'completes -Scope with the Calendar scopes as the short names -Scope takes' {
        Get-Completion 'Connect-CalendarWatch -Scope calendar.events.r' | Should -Be @('calendar.events.readonly')
        $all = Get-Completion 'Connect-CalendarWatch -Scope '
        # The 17 scopes of the Calendar v3 discovery document (auth.oauth2.scopes).
        $all.Count | Should -Be 17
        $all | Should -Contain 'calendar.acls.readonly'
    }

    It 'completes -EventType with the event types Google documents' {
        Get-Completion 'New-CalendarEventWatch -EventType work' | Should -Be @('workingLocation')
    }
}
