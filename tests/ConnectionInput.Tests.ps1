# Pester 5: what Connect-CalendarWatch and the watch cmdlets say about input they cannot use: -Subject on a connection
# that cannot impersonate, -Scope values that are not Calendar scopes, -KeyFile paths that are not key files, and the
# emulator named as localhost. Against the emulator started without auth. Run through ./build.ps1 -Task Test.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    Import-Module -Name (Get-BuiltModuleManifest -RepositoryRoot $repositoryRoot) -Force

    $script:emulator = Start-CalendarEmulator -RepositoryRoot $repositoryRoot
    $script:receiver = Start-WebhookReceiver
    $script:address = [Uri]::new($script:receiver.Address, 'hook')
    # The emulator without auth takes any bearer token.
    $script:anyToken = ConvertTo-SecureString -String 'any-token' -AsPlainText -Force

    function New-TestCalendar {
        $id = 'input-{0}@example.com' -f [guid]::NewGuid().ToString('N').Substring(0, 10)
        New-EmulatorCalendar -Emulator $script:emulator -Id $id
        $id
    }

    function Get-WatchRequestCount {
        $stats = Invoke-EmulatorAdmin -Emulator $script:emulator -Path 'stats'
        $count = $stats.requestsByMethod.PSObject.Properties['calendar.events.watch']
        if ($null -eq $count) { 0 } else { [int]$count.Value }
    }
}

AfterAll {
    Disconnect-CalendarWatch
    Stop-WebhookReceiver -Receiver $script:receiver
    Stop-CalendarEmulator -Emulator $script:emulator
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

Describe '-Subject on a connection that cannot impersonate' {
    It 'refuses each item with a subject on <Name>, sends nothing for it, and watches the others' -ForEach @(
        @{ Name = 'an -Emulator connection'; Connect = { Connect-CalendarWatch -Emulator $script:emulator.BaseUri }; Advice = '--no-auth' }
        @{ Name = 'an -AccessToken connection'; Connect = { Connect-CalendarWatch -AccessToken $script:anyToken -ApiEndpoint $script:emulator.BaseUri }; Advice = '-AccessToken' }
    ) {
        & $Connect
        $refused = New-TestCalendar
        $watched = New-TestCalendar
        $before = Get-WatchRequestCount

        $rows = @(
            [PSCustomObject]@{ CalendarId = $refused; Subject = 'alice@example.com' }
            [PSCustomObject]@{ CalendarId = $watched; Subject = '' }
        )
        $channels = @($rows | New-CalendarEventWatch -Address $script:address -ErrorVariable failures -ErrorAction SilentlyContinue)

        $channels.Count | Should -Be 1
        $channels[0].CalendarId | Should -Be $watched
        $channels[0].Subject | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.SubjectNotSupported,*'
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failures[0].TargetObject | Should -Be $refused
        $failures[0].Exception.Message | Should -Match ([regex]::Escape("'alice@example.com'"))
        $failures[0].Exception.Message | Should -Match ([regex]::Escape($Advice))
        $failures[0].Exception.Message | Should -Not -Match 'any-token'
        (Get-WatchRequestCount) - $before | Should -Be 1
        @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.calendarId -eq $refused }).Count | Should -Be 0
    }
}

Describe 'Connect-CalendarWatch -Scope' {
    It 'refuses the misspelt scope <Given>, suggesting <Suggested>' -ForEach @(
        @{ Given = 'calendar.event.readonly'; Suggested = 'calendar.events.readonly' }
        @{ Given = 'https://www.googleapis.com/auth/calendar.acl.readonly'; Suggested = 'https://www.googleapis.com/auth/calendar.acls.readonly' }
    ) {
        $failure = $null
        try {
            Connect-CalendarWatch -AccessToken $script:anyToken -ApiEndpoint $script:emulator.BaseUri -Scope 'calendar.readonly', $Given
        }
        catch {
            $failure = $_
        }

        $failure | Should -Not -BeNullOrEmpty
        $failure.FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidScope,*'
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failure.Exception.Message | Should -Match ([regex]::Escape("'$Given'"))
        $failure.Exception.Message | Should -Match ([regex]::Escape("Did you mean ${Suggested}?"))
    }

    It 'names a value with spaces as given instead of splitting it into scopes' {
        { Connect-CalendarWatch -AccessToken $script:anyToken -ApiEndpoint $script:emulator.BaseUri -Scope 'not a scope' } |
            Should -Throw -ErrorId 'CalendarWatch.InvalidScope*' -ExpectedMessage "*'not a scope'*space*"
    }

    It 'shows how to give several scopes written as one value' {
        { Connect-CalendarWatch -AccessToken $script:anyToken -ApiEndpoint $script:emulator.BaseUri -Scope 'calendar.readonly,calendar.acls.readonly' } |
            Should -Throw -ErrorId 'CalendarWatch.InvalidScope*' -ExpectedMessage '*-Scope calendar.readonly, calendar.acls.readonly*'
    }

    It 'accepts Calendar scopes by short name and full URL' {
        Connect-CalendarWatch -AccessToken $script:anyToken -ApiEndpoint $script:emulator.BaseUri -Scope 'calendar.events.readonly', 'https://www.googleapis.com/auth/calendar.acls.readonly'

        @((Get-CalendarWatchConnection).Scopes) | Should -Be @('https://www.googleapis.com/auth/calendar.acls.readonly', 'https://www.googleapis.com/auth/calendar.events.readonly')
    }
}

Describe 'Connect-CalendarWatch -KeyFile on a path that is not a key file' {
    It 'names a directory as a directory' {
        $failure = $null
        try {
            Connect-CalendarWatch -KeyFile $TestDrive
        }
        catch {
            $failure = $_
        }

        $failure | Should -Not -BeNullOrEmpty
        $failure.FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.KeyFileNotAFile,*'
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failure.Exception.Message | Should -Match 'is a directory'
        $failure.Exception.Message | Should -Not -Match 'does not exist'
    }

    It 'refuses a named pipe (FIFO) without waiting for a writer' -Skip:$IsWindows {
        $fifo = Join-Path -Path $TestDrive -ChildPath 'key.fifo'
        & mkfifo $fifo
        $LASTEXITCODE | Should -Be 0

        { Connect-CalendarWatch -KeyFile $fifo } | Should -Throw -ErrorId 'CalendarWatch.KeyFileNotAFile*' -ExpectedMessage '*named pipe (FIFO)*'
    }

    It 'refuses /dev/zero as a device without reading it' -Skip:$IsWindows {
        { Connect-CalendarWatch -KeyFile '/dev/zero' } | Should -Throw -ErrorId 'CalendarWatch.KeyFileNotAFile*' -ExpectedMessage '*character device*'
    }

    It 'refuses a file far larger than a key' {
        $huge = Join-Path -Path $TestDrive -ChildPath 'huge.json'
        [System.IO.File]::WriteAllText($huge, '{' + (' ' * 100KB) + '}')

        { Connect-CalendarWatch -KeyFile $huge } | Should -Throw -ErrorId 'CalendarWatch.KeyFileTooLarge*' -ExpectedMessage '*64 KiB*'
    }
}

Describe 'Connect-CalendarWatch -Emulator localhost:PORT' {
    It 'reaches the emulator that listens on 127.0.0.1' {
        $calendar = New-TestCalendar
        Connect-CalendarWatch -Emulator "localhost:$($script:emulator.Port)"

        $channel = New-CalendarEventWatch -CalendarId $calendar -Address $script:address

        $channel.ResourceId | Should -Not -BeNullOrEmpty
        @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $_.id -eq $channel.Id }).Count | Should -Be 1
    }
}
