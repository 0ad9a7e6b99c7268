# Pester 5: many calendars through one command: -ThrottleLimit, -Unordered, retries under injected faults, -Verbose,
# progress preference and Ctrl+C (PowerShell.Stop, which calls StopProcessing like Ctrl+C does). Drives the built
# module (output/CalendarWatch/<version>) against its own emulator process. Run through ./build.ps1 -Task Test.

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    $repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $script:builtManifest = Get-BuiltModuleManifest -RepositoryRoot $repositoryRoot
    Import-Module -Name $script:builtManifest -Force

    $script:emulator = Start-CalendarEmulator -RepositoryRoot $repositoryRoot
    # A receiver that answers every sync notification, so the emulator has no failed deliveries to retry.
    $script:receiver = Start-WebhookReceiver
    $script:address = [Uri]::new($script:receiver.Address, 'scale-hook')
    Connect-CalendarWatch -Emulator $script:emulator.BaseUri

    # 200 calendars, created once; each test makes its own channels on them (new GUID channel ids every time).
    $prefix = 'scale-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:calendars = @(foreach ($i in 1..200) { '{0}-{1:d3}@example.com' -f $prefix, $i })
    foreach ($calendar in $script:calendars) {
        New-EmulatorCalendar -Emulator $script:emulator -Id $calendar
    }

    function Get-ChannelOn {
        # The emulator's channels whose channel id is in $ChannelId (wrap the call in @()).
        param([Parameter(Mandatory)][string[]]$ChannelId)
        $wanted = [System.Collections.Generic.HashSet[string]]::new([string[]]$ChannelId)
        foreach ($channel in @(Get-EmulatorChannel -Emulator $script:emulator)) {
            if ($wanted.Contains([string]$channel.id)) { $channel }
        }
    }

    function Set-EmulatorFault {
        param([Parameter(Mandatory)][hashtable]$Fault)
        $null = Invoke-EmulatorAdmin -Emulator $script:emulator -Path 'faults' -Method 'PUT' -Body $Fault
    }
}

AfterAll {
    Stop-WebhookReceiver -Receiver $script:receiver
    Stop-CalendarEmulator -Emulator $script:emulator
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

Describe 'Many calendars through one command' {
    AfterEach {
        # PUT replaces the whole fault set: an empty one turns every fault off.
        Set-EmulatorFault -Fault @{}
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri
    }

    It 'keeps the input order with -ThrottleLimit 16' {
        $channels = @($script:calendars | New-CalendarEventWatch -Address $script:address -ThrottleLimit 16)

        $channels.Count | Should -Be 200
        $sequence = @($channels | ForEach-Object { $_.CalendarId })
        ($sequence -join ',') | Should -BeExactly ($script:calendars -join ',')
    }

    It 'keeps the input order for an array given to -CalendarId' {
        $channels = @(New-CalendarAclWatch -CalendarId $script:calendars -Address $script:address -ThrottleLimit 16)

        $channels.Count | Should -Be 200
        (@($channels | ForEach-Object { $_.CalendarId }) -join ',') | Should -BeExactly ($script:calendars -join ',')
    }

    It 'returns every calendar with -Unordered' {
        $channels = @($script:calendars | New-CalendarEventWatch -Address $script:address -ThrottleLimit 16 -Unordered)

        $channels.Count | Should -Be 200
        $returned = @($channels | ForEach-Object { $_.CalendarId } | Sort-Object -Unique)
        $returned.Count | Should -Be 200
        ($returned -join ',') | Should -BeExactly (@($script:calendars | Sort-Object) -join ',')
    }

    It 'refuses -ThrottleLimit <_>' -ForEach @(0, 65) {
        { New-CalendarEventWatch -CalendarId $script:calendars[0] -Address $script:address -ThrottleLimit $_ } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'retries injected 503s until every item succeeds, with exactly one channel each, and says so in -Verbose' {
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri -MaxRetry 10
        Set-EmulatorFault -Fault @{ error503Rate = 0.2; seed = 1 }

        $errors = $null
        $records = @($script:calendars | New-CalendarEventWatch -Address $script:address -ThrottleLimit 16 -Verbose -ErrorVariable errors -ErrorAction SilentlyContinue 4>&1)
        Set-EmulatorFault -Fault @{}

        @($errors).Count | Should -Be 0
        $channels = @($records | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        $verbose = @($records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object { $_.Message })

        $channels.Count | Should -Be 200
        (@($channels | ForEach-Object { $_.CalendarId }) -join ',') | Should -BeExactly ($script:calendars -join ',')
        $ids = @($channels | ForEach-Object { $_.Id })
        $held = @(Get-ChannelOn -ChannelId $ids)
        $held.Count | Should -Be 200
        @($held | ForEach-Object { $_.id } | Sort-Object -Unique).Count | Should -Be 200
        @($verbose | Where-Object { $_ -match '^Retrying the watch of calendar .+ HTTP 503' }).Count | Should -BeGreaterThan 0
    }

    It 'reports a channel created behind a lost response as CalendarWatch.ChannelMayExist' {
        # The emulator creates the channel and drops the connection; the retry finds the channel id taken.
        Set-EmulatorFault -Fault @{ responseLostRate = 1 }
        $channelId = 'lost-' + [guid]::NewGuid().ToString('N')
        $calendar = $script:calendars[5]

        $errors = $null
        $channels = @(New-CalendarEventWatch -CalendarId $calendar -Address $script:address -ChannelId $channelId -ErrorVariable errors -ErrorAction SilentlyContinue)
        Set-EmulatorFault -Fault @{}

        $channels.Count | Should -Be 0
        @($errors).Count | Should -Be 1
        $record = @($errors)[0]
        $record.FullyQualifiedErrorId | Should -BeLike 'CalendarWatch.ChannelMayExist,*'
        $record.CategoryInfo.Category | Should -Be 'ResourceExists'
        $record.TargetObject | Should -Be $calendar
        $record.Exception.Message | Should -BeLike "*$channelId*"
        $record.Exception.Message | Should -BeLike "*$calendar*"
        $record.Exception.Message | Should -BeLike "*$($script:address.AbsoluteUri)*"
        @(Get-ChannelOn -ChannelId @($channelId)).Count | Should -Be 1
    }

    It 'shows -MaxRetry and -RetryTimeLimit in the connection' {
        $info = Connect-CalendarWatch -Emulator $script:emulator.BaseUri -MaxRetry 3 -RetryTimeLimit ([TimeSpan]::FromSeconds(30)) -PassThru

        $info.MaxRetry | Should -Be 3
        $info.RetryTimeLimit | Should -Be ([TimeSpan]::FromSeconds(30))
    }

    It 'fails an item once retries are used up, and goes on with the others' {
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri -MaxRetry 0
        Set-EmulatorFault -Fault @{ error503Rate = 1 }

        $errors = $null
        $channels = @($script:calendars[0..2] | New-CalendarEventWatch -Address $script:address -ErrorVariable errors -ErrorAction SilentlyContinue)

        $channels.Count | Should -Be 0
        @($errors).Count | Should -Be 3
        @($errors | ForEach-Object { $_.TargetObject }) | Should -Be @($script:calendars[0..2])
    }

    It 'runs quietly with $ProgressPreference = SilentlyContinue' {
        $ProgressPreference = 'SilentlyContinue'
        $channels = @(New-CalendarEventWatch -CalendarId $script:calendars[0..19] -Address $script:address -ThrottleLimit 4)

        $channels.Count | Should -Be 20
    }
}

Describe 'Stopping a command (StopProcessing, as Ctrl+C does)' {
    AfterEach {
        Set-EmulatorFault -Fault @{}
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri
    }

    It 'ends at once, though items wait out a 10-minute Retry-After, and every channel it wrote exists' {
        # 24 requests go through, then 429 with Retry-After 600 s: every later attempt of this identity waits at its
        # rate-limit pause, which the 1-hour retry time limit allows. Only a stop that cancels those waits at once can
        # end within the (generous) guard below. The clock moves on first, so earlier tests' requests are out of the window.
        Connect-CalendarWatch -Emulator $script:emulator.BaseUri -RetryTimeLimit ([TimeSpan]::FromHours(1))
        $null = Invoke-EmulatorAdmin -Emulator $script:emulator -Path 'clock' -Method 'PUT' -Body @{ advanceSeconds = 3600 }
        Set-EmulatorFault -Fault @{ userRateLimit = 24; rateLimitWindowSeconds = 3600; userRateLimitStatus = '429'; retryAfterSeconds = 600 }

        $powershell = [PowerShell]::Create([System.Management.Automation.RunspaceMode]::NewRunspace)
        $waiting = [System.Threading.ManualResetEventSlim]::new()
        try {
            # The session's connection belongs to this runspace; the new runspace is handed it as -Connection. The script is
            # text, so it is parsed in that runspace; it signals once a channel is out and an item is waiting.
            $null = $powershell.AddScript({
                param($Manifest, $CalendarId, $Address, $Signal, $Connection)
                Import-Module -Name $Manifest
                $channelSeen = $false
                $retrySeen = $false
                New-CalendarEventWatch -CalendarId $CalendarId -Address $Address -ThrottleLimit 8 -Connection $Connection -Verbose 4>&1 | ForEach-Object {
                    if ($_ -is [System.Management.Automation.VerboseRecord]) {
                        if ($_.Message -like 'Retrying the watch*') { $retrySeen = $true }
                    }
                    else {
                        $channelSeen = $true
                        $_
                    }

                    if ($channelSeen -and $retrySeen) { $null = $Signal.Set() }
                }
            }.ToString()).AddArgument($script:builtManifest).AddArgument([string[]]$script:calendars).AddArgument($script:address).AddArgument($waiting).AddArgument((Get-CalendarWatchConnection))
            $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
            $inputData = [System.Management.Automation.PSDataCollection[psobject]]::new()
            $inputData.Complete()
            $handle = $powershell.BeginInvoke($inputData, $output)

            $waiting.Wait([TimeSpan]::FromSeconds(60)) | Should -BeTrue -Because 'a channel is written and an item waits out Retry-After'
            $stop = $powershell.BeginStop($null, $null)
            $stop.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(60)) | Should -BeTrue -Because 'the stop cancels the items waiting out Retry-After'
            $powershell.EndStop($stop)

            $handle.IsCompleted | Should -BeTrue
            $powershell.InvocationStateInfo.State | Should -Be 'Stopped'
            $written = @($output | ForEach-Object { $_.Id })
            $written.Count | Should -BeGreaterThan 0
            $written.Count | Should -BeLessOrEqual 24
            @(Get-ChannelOn -ChannelId $written).Count | Should -Be $written.Count
        }
        finally {
            $powershell.Dispose()
            $waiting.Dispose()
        }
    }
}
