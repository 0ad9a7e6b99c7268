# Pester 5: what an admin sees when a watch may have created a channel, when input is bad, and when the output goes
# through CSV. Drives the built module against the emulator (./build.ps1 -Task Test builds first).

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
        $id = 'safety-{0}@example.com' -f [guid]::NewGuid().ToString('N').Substring(0, 10)
        New-EmulatorCalendar -Emulator $script:emulator -Id $id
        $id
    }


    function Get-EmulatorChannelId {
        @(Get-EmulatorChannel -Emulator $script:emulator | ForEach-Object { [string]$_.id })
    }

    $script:pwsh = Join-Path -Path $PSHOME -ChildPath $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
    if (-not (Test-Path -LiteralPath $script:pwsh -PathType Leaf)) {
        $script:pwsh = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    }
}

AfterAll {
    Stop-TestSession -Session $script:session
}

Describe 'A watch that may have created a channel is always named' {
    AfterEach {
        Set-EmulatorFault -Emulator $script:emulator -Fault @{}
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri
    }

    It 'says ChannelMayExist with the id, calendar and address after a 5xx with -MaxRetry 0' {
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri -MaxRetry 0
        Set-EmulatorFault -Emulator $script:emulator -Fault @{ error503Rate = 1 }
        $calendar = New-TestCalendar

        $null = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -ChannelId 'maybe-503-a' -ErrorVariable failures -ErrorAction SilentlyContinue

        @($failures).Count | Should -Be 1
        $failure = $failures[0]
        $failure.FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelMayExist,*'
        $failure.TargetObject | Should -Be $calendar
        $failure.Exception.ChannelId | Should -Be 'maybe-503-a'
        $failure.Exception.CalendarId | Should -Be $calendar
        $failure.Exception.Address | Should -Be $script:address.AbsoluteUri
        $failure.Exception.Message | Should -Match 'maybe-503-a'
        $failure.Exception.Message | Should -Match ([regex]::Escape($calendar))
        $failure.Exception.Message | Should -Match ([regex]::Escape($script:address.AbsoluteUri))
        # No advice that would make a second channel for the same calendar and address.
        $failure.Exception.Message | Should -Not -Match 'Omit -ChannelId'
    }

    It 'says ChannelMayExist when retries run out on cut-off connections' {
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri -MaxRetry 1
        Set-EmulatorFault -Emulator $script:emulator -Fault @{ connectionResetRate = 1 }
        $calendar = New-TestCalendar

        $null = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -ErrorVariable failures -ErrorAction SilentlyContinue

        @($failures).Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelMayExist,*'
        $failures[0].Exception.ChannelId | Should -Not -BeNullOrEmpty
    }

    It 'gives a taken id advice that cannot lead to a duplicate' {
        $calendar = New-TestCalendar
        $first = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -ChannelId 'taken-id-a'

        # -NoRecord: the record would refuse the id before Google is asked (Record.Tests.ps1); this is Google's answer.
        $null = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -ChannelId 'taken-id-a' -NoRecord -ErrorVariable failures -ErrorAction SilentlyContinue

        $first.Id | Should -Be 'taken-id-a'
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelIdNotUnique,*'
        $failures[0].Exception.Message | Should -Not -Match 'Omit -ChannelId'
        $failures[0].Exception.Message | Should -Match 'may still be live'
    }
}

Describe 'Bad input is refused before anything is sent' {
    BeforeEach {
        $script:calendar = New-TestCalendar
        $script:before = @(Get-EmulatorChannelId).Count
    }

    It 'refuses <Name> in -ChannelId' -ForEach @(
        @{ Name = 'CR'; Value = "a`rb" }
        @{ Name = 'LF'; Value = "a`nX-Injected: 1" }
        @{ Name = 'NUL'; Value = "a`0b" }
    ) {
        $null = New-CalendarEventWatch -CalendarId $script:calendar -Address $script:address -ChannelId $Value -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidChannelId,*'
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failures[0].Exception.Message | Should -Match $Name
        @(Get-EmulatorChannelId).Count | Should -Be $script:before
    }

    It 'refuses a line break in -Token' {
        $null = New-CalendarEventWatch -CalendarId $script:calendar -Address $script:address -Token "a`r`nb" -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidToken,*'
        @(Get-EmulatorChannelId).Count | Should -Be $script:before
    }

    It 'refuses a password in -Address and never shows it' {
        $secretAddress = 'http://admin:S3cretPw@127.0.0.1:9/hook'
        $all = New-CalendarEventWatch -CalendarId $script:calendar -Address $secretAddress -Verbose -ErrorVariable failures -ErrorAction SilentlyContinue 4>&1 3>&1 | Out-String
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidAddress,*'
        ($all + ($failures | Out-String) + $failures[0].Exception.Message) | Should -Not -Match 'S3cretPw'
        @(Get-EmulatorChannelId).Count | Should -Be $script:before
    }

    It 'refuses a fragment in -Address' {
        $null = New-CalendarEventWatch -CalendarId $script:calendar -Address "$($script:address.AbsoluteUri)#part" -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidAddress,*'
        $failures[0].Exception.Message | Should -Match 'fragment'
    }

    It 'refuses the calendar id <_> (it would change the request path)' -ForEach @('.', '..') {
        $null = New-CalendarEventWatch -CalendarId $_ -Address $script:address -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidCalendarId,*'
        @(Get-EmulatorChannelId).Count | Should -Be $script:before
    }

    It 'tells that the primary keyword is lower-case' {
        $null = New-CalendarEventWatch -CalendarId 'PRIMARY' -Address $script:address -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidCalendarId,*'
        $failures[0].Exception.Message | Should -Match "lower-case, 'primary'"
    }

    It 'says the limit for a -TimeToLive Google refuses' {
        $null = New-CalendarEventWatch -CalendarId $script:calendar -Address $script:address -TimeToLive (New-TimeSpan -Days 5000) -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidTtl,*'
        $failures[0].Exception.Message | Should -Match '30 days'
        @(Get-EmulatorChannelId).Count | Should -Be $script:before
    }

    It 'refuses an -ExpiresAt in the past locally' {
        $null = New-CalendarEventWatch -CalendarId $script:calendar -Address $script:address -ExpiresAt ([DateTimeOffset]::UtcNow.AddHours(-1)) -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.InvalidExpiresAt,*'
        @(Get-EmulatorChannelId).Count | Should -Be $script:before
    }

    It 'warns when Google shortened the lifetime asked for' {
        # The emulator caps lifetimes at 30 days, as Google is reported to.
        $channel = New-CalendarEventWatch -CalendarId $script:calendar -Address $script:address -TimeToLive (New-TimeSpan -Days 60) -WarningVariable warnings 3>$null
        $channel | Should -Not -BeNullOrEmpty
        @($warnings).Count | Should -Be 1
        $warnings[0].Message | Should -Match 'shortened'
        $warnings[0].Message | Should -Match $channel.Id
    }

    It 'binds a hashtable row by its CalendarId key' {
        $channel = @{ CalendarId = $script:calendar } | New-CalendarEventWatch -Address $script:address
        $channel.CalendarId | Should -Be $script:calendar
    }

    It 'refuses a hashtable row with other keys, and the others go on' {
        $good = New-TestCalendar
        $channels = @(
            @{ CalendarId = $script:calendar; Subject = 'alice@example.com' }, $good |
                New-CalendarEventWatch -Address $script:address -ErrorVariable failures -ErrorAction SilentlyContinue
        )
        $channels.Count | Should -Be 1
        $channels[0].CalendarId | Should -Be $good
        @($failures).Count | Should -Be 1
        $failures[0].Exception.Message | Should -Match 'pscustomobject'
        @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object calendarId -EQ $script:calendar).Count | Should -Be 0
    }
}

Describe '-ErrorAction Stop reports the failing item once' {
    It 'ends with the error, and what was in flight goes to the warning stream only' {
        $missing = 'no-such-calendar-{0}@example.com' -f [guid]::NewGuid().ToString('N').Substring(0, 8)
        $others = @(1..6 | ForEach-Object { New-TestCalendar })
        $child = Join-Path -Path $TestDrive -ChildPath 'stop.ps1'
        Set-Content -LiteralPath $child -Encoding utf8 -Value @'
param([string]$Manifest, [string]$Emulator, [string]$Address, [string]$Calendars)
Import-Module -Name $Manifest
Connect-CalendarWatch -Emulator $Emulator
$caught = $null
try {
    $Calendars -split ',' | New-CalendarEventWatch -Address $Address -ThrottleLimit 8 -ErrorAction Stop -WarningVariable warned 3>$null | Out-Null
}
catch {
    $caught = $_
}
[pscustomobject]@{
    ErrorId  = $caught.FullyQualifiedErrorId
    Target   = [string]$caught.TargetObject
    Warnings = @($warned | ForEach-Object { $_.Message })
} | ConvertTo-Json -Compress
'@
        Set-EmulatorFault -Emulator $script:emulator -Fault @{ latencyMs = 200 }
        try {
            $stdout = & $script:pwsh -NoProfile -NonInteractive -File $child -Manifest $script:builtManifest -Emulator $script:emulator.BaseUri.AbsoluteUri -Address $script:address.AbsoluteUri -Calendars ((@($missing) + $others) -join ',') 2>&1 | Out-String
        }
        finally {
            Set-EmulatorFault -Emulator $script:emulator -Fault @{}
        }

        $json = ($stdout -split "`n" | Where-Object { $_.TrimStart().StartsWith('{') } | Select-Object -Last 1)
        $json | Should -Not -BeNullOrEmpty -Because $stdout
        $result = $json | ConvertFrom-Json
        $result.ErrorId | Should -BeLike 'CalendarWatch.NotFound,*'
        $result.Target | Should -Be $missing
        # Once: the terminating error, never also a warning; and nothing reached the host past 3>$null.
        @($result.Warnings | Where-Object { $_ -match [regex]::Escape($missing) }).Count | Should -Be 0
        $stdout | Should -Not -Match '(?m)^WARNING:'
        # Every channel that exists for the other calendars is named in a capturable warning.
        $created = @(Get-EmulatorChannel -Emulator $script:emulator | Where-Object { $others -contains $_.calendarId })
        $created.Count | Should -BeGreaterThan 0
        foreach ($channel in $created) {
            @($result.Warnings | Where-Object { $_ -match [regex]::Escape([string]$channel.id) }).Count | Should -Be 1 -Because "channel $($channel.id) exists"
        }
    }
}

Describe 'Channels through CSV' {
    It 'writes Expiration as ISO 8601 UTC, read back to the same instant under another culture' {
        $calendar = New-TestCalendar
        $channel = New-CalendarEventWatch -CalendarId $calendar -Address $script:address
        $csv = Join-Path -Path $TestDrive -ChildPath 'channels.csv'
        $original = [cultureinfo]::CurrentCulture
        try {
            [cultureinfo]::CurrentCulture = 'de-DE'
            $channel | Export-Csv -LiteralPath $csv -NoTypeInformation
            [cultureinfo]::CurrentCulture = 'en-US'
            $row = Import-Csv -LiteralPath $csv
        }
        finally {
            [cultureinfo]::CurrentCulture = $original
        }

        $row.Expiration | Should -Match '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$'
        ([DateTimeOffset]$row.Expiration) | Should -Be $channel.Expiration
        $channel.Expiration | Should -BeOfType [DateTimeOffset]
        ($channel.Expiration -gt [DateTimeOffset]::UtcNow) | Should -BeTrue
    }

    It 'names who made the channel' {
        $channel = New-CalendarEventWatch -CalendarId (New-TestCalendar) -Address $script:address
        $channel.PSObject.Properties.Name | Should -Contain 'Account'
        $channel.PSObject.Properties.Name | Should -Contain 'Subject'
    }

    It 'keeps event types from a CSV row for the next command' {
        $calendar = New-TestCalendar
        $channel = New-CalendarEventWatch -CalendarId $calendar -Address $script:address -EventType focusTime, outOfOffice
        $csv = Join-Path -Path $TestDrive -ChildPath 'types.csv'
        $channel | Export-Csv -LiteralPath $csv -NoTypeInformation

        $again = Import-Csv -LiteralPath $csv | New-CalendarEventWatch

        $again.EventTypes | Should -Be 'focusTime,outOfOffice'
        $server = Get-EmulatorChannel -Emulator $script:emulator | Where-Object id -EQ $again.Id
        @($server.eventTypes) | Should -Be @('focusTime', 'outOfOffice')
    }

    It 'reads an empty EventTypes cell as every type' {
        $calendar = New-TestCalendar
        $channel = New-CalendarEventWatch -CalendarId $calendar -Address $script:address
        $channel.EventTypes | Should -Be ''
        $again = $channel | ConvertTo-Csv | ConvertFrom-Csv | New-CalendarEventWatch
        $again.EventTypes | Should -Be ''
    }
}

Describe 'The session connection belongs to its runspace' {
    It 'survives Disconnect-CalendarWatch in another runspace' {
        $calendar = New-TestCalendar
        $other = [PowerShell]::Create([System.Management.Automation.RunspaceMode]::NewRunspace)
        try {
            $null = $other.AddCommand('Import-Module').AddParameter('Name', $script:builtManifest).AddStatement()
            $null = $other.AddCommand('Connect-CalendarWatch').AddParameter('Emulator', $script:emulator.BaseUri).AddStatement()
            $null = $other.AddCommand('Disconnect-CalendarWatch')
            $null = $other.Invoke()
            $other.HadErrors | Should -BeFalse
        }
        finally {
            $other.Dispose()
        }

        Get-CalendarWatchConnection | Should -Not -BeNullOrEmpty
        (New-CalendarEventWatch -CalendarId $calendar -Address $script:address).CalendarId | Should -Be $calendar
    }

    It 'hands out no live connection or token through a public type' {
        $assembly = (Get-Command New-CalendarEventWatch).ImplementingType.Assembly
        $assembly.GetType('CalendarWatch.CalendarWatchSession').IsPublic | Should -BeFalse
        # The engine lives in the module's private load context: find it there, as a curious script could.
        $engineAssembly = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($assembly).Assemblies | Where-Object { $_.GetName().Name -eq 'CalendarWatch.Engine' }
        $engine = $engineAssembly.GetType('CalendarWatch.Engine.CalendarConnection', $true)
        $engine.GetProperty('TokenSource') | Should -BeNullOrEmpty
        $engine.GetProperty('Account') | Should -Not -BeNullOrEmpty
    }
}
