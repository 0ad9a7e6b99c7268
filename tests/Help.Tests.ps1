# Pester 5: the help a user reads (Get-Help), built from docs/help/<Command>.md by ./build.ps1 -Task Build, and every
# example in it run against the emulator. Examples marked <!-- syntax-only: why --> (a real key file, token or domain)
# are only parsed. Picks up every docs/help/*.md, so commands added later are covered without editing this file.
#
# How an example runs: in a fresh folder, against an emulator started without auth; the session is not connected and
# CALENDARWATCH_EMULATOR_HOST names the emulator, so an example that connects nowhere uses it (as the README says);
# `127.0.0.1:8085` and `localhost:8085` (the README's emulator address) become the test emulator's address; every
# calendar id the example names exists in the emulator; a fresh channel record. An example marked
# <!-- fixtures: calendars.csv, channels.csv --> finds those files in its folder: calendars.csv (CalendarId column),
# calendars.txt (one id a line) and channels.csv (New-CalendarEventWatch output of those calendars, recorded). It must finish without an error record.

BeforeDiscovery {
    $helpFolder = [System.IO.Path]::Combine((Split-Path -Path $PSScriptRoot -Parent), 'docs', 'help')
    $script:commandCases = @()
    $script:exampleCases = @()
    foreach ($file in Get-ChildItem -LiteralPath $helpFolder -Filter '*.md' -File | Sort-Object -Property Name) {
        $text = [System.IO.File]::ReadAllText($file.FullName) -replace "`r`n", "`n"
        $examplesSection = [regex]::Match($text, '(?ms)^## EXAMPLES\s*$(?<body>.*?)(?=^## )').Groups['body'].Value
        $chunks = [regex]::Split($examplesSection, '(?m)^(?=### )') | Where-Object { $_ -match '^### ' }
        $number = 0
        $examples = foreach ($chunk in $chunks) {
            $number++
            $fence = [regex]::Match($chunk, '(?ms)^```\w*\s*\n(?<code>.*?)\n```')
            $fixtures = [regex]::Match($chunk, '<!--\s*fixtures:\s*(?<names>[^>]*?)\s*-->').Groups['names'].Value
            @{
                Command    = $file.BaseName
                Number     = $number
                Title      = ([regex]::Match($chunk, '^### (Example \d+\s*:?\s*)?(?<t>.*)').Groups['t'].Value.Trim())
                Code       = $fence.Groups['code'].Value
                SyntaxOnly = $chunk -match '<!--\s*syntax-only'
                Fixtures   = @($fixtures -split '\s*,\s*' | Where-Object { $_ })
            }
        }
        $examples = @($examples)
        $script:commandCases += @{ Command = $file.BaseName; Examples = $examples }
        $script:exampleCases += $examples
    }
}

BeforeAll {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'

    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'CalendarWatch.TestHelpers.psm1') -Force
    $script:repositoryRoot = Split-Path -Path $PSScriptRoot -Parent
    $script:manifest = Get-BuiltModuleManifest -RepositoryRoot $script:repositoryRoot
    Import-Module -Name $script:manifest -Force -Global
    $script:emulator = Start-CalendarEmulator -RepositoryRoot $script:repositoryRoot
    $script:emulatorHost = '127.0.0.1:{0}' -f $script:emulator.Port
    $script:savedEmulatorHost = $env:CALENDARWATCH_EMULATOR_HOST
    $script:savedStore = $env:CALENDARWATCH_STORE
    $script:calendars = [System.Collections.Generic.HashSet[string]]::new([StringComparer]::OrdinalIgnoreCase)
    $script:projectUri = (Import-PowerShellDataFile -LiteralPath $script:manifest).PrivateData.PSData.ProjectUri.TrimEnd('/')

    function Add-ExampleCalendar {
        # Every calendar id an example names exists in the emulator, as in the user's domain. Holiday and other
        # generated calendars are left to the emulator, which refuses to watch them as Google does.
        param([string]$Code)
        foreach ($match in [regex]::Matches($Code, '(?<![\w.+#-])[\w.+-]+@[\w-]+(\.[\w-]+)+')) {
            $id = $match.Value
            if ($id -match '#|@group\.v\.calendar\.google\.com$' -or $id -eq 'user@example.com' -or -not $script:calendars.Add($id)) { continue }
            New-EmulatorCalendar -Emulator $script:emulator -Id $id
        }
    }

    function Invoke-HelpExample {
        # Runs one example as a user would paste it; returns its output as text and its error records.
        param([hashtable]$Example)

        $folder = Join-Path -Path $TestDrive -ChildPath ('{0}-{1}' -f $Example.Command, $Example.Number)
        $null = New-Item -ItemType Directory -Path $folder -Force
        $env:CALENDARWATCH_STORE = Join-Path -Path $folder -ChildPath 'record.db'
        $env:CALENDARWATCH_EMULATOR_HOST = $script:emulatorHost
        Disconnect-CalendarWatch
        $code = $Example.Code -replace '(127\.0\.0\.1|localhost):8085', $script:emulatorHost
        Add-ExampleCalendar -Code $code

        $fixtureCalendars = @('team@example.com', 'room-1@resource.calendar.google.com')
        if ($Example.Fixtures.Count -gt 0) {
            Add-ExampleCalendar -Code ($fixtureCalendars -join ' ')
            $fixtureCalendars | ForEach-Object { [pscustomobject]@{ CalendarId = $_ } } |
                Export-Csv -LiteralPath (Join-Path -Path $folder -ChildPath 'calendars.csv') -NoTypeInformation
            $fixtureCalendars | Set-Content -LiteralPath (Join-Path -Path $folder -ChildPath 'calendars.txt')
            if ($Example.Fixtures -contains 'channels.csv') {
                $fixtureCalendars | New-CalendarEventWatch -Address 'https://hooks.example.com/calendar' |
                    Export-Csv -LiteralPath (Join-Path -Path $folder -ChildPath 'channels.csv') -NoTypeInformation
            }
        }

        Push-Location -LiteralPath $folder
        try {
            # An example that prompts would wait for a person: it fails here instead (mark it syntax-only).
            function Read-Host { throw 'This example prompts (Read-Host): mark it <!-- syntax-only: why --> or make it run unattended.' }
            $block = [scriptblock]::Create($code)
            $all = @(& { $ErrorActionPreference = 'Continue'; & $block | Out-String -Width 200 } 2>&1)
        }
        finally {
            Pop-Location
            Disconnect-CalendarWatch
        }

        [pscustomobject]@{
            Output = ($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }) -join ''
            Errors = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        }
    }
}

AfterAll {
    $env:CALENDARWATCH_EMULATOR_HOST = $script:savedEmulatorHost
    $env:CALENDARWATCH_STORE = $script:savedStore
    Stop-CalendarEmulator -Emulator $script:emulator
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

Describe 'The help of <Command>' -ForEach $script:commandCases {
    BeforeAll {
        $script:help = Get-Help -Name $Command -Full
    }

    It 'is the built help: synopsis, description, and the examples of docs/help, numbered from 1' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match ([regex]::Escape("$Command ["))
        @($help.description).Count | Should -BeGreaterThan 0
        $shown = @($help.examples.example)
        $shown.Count | Should -Be $Examples.Count
        for ($i = 0; $i -lt $shown.Count; $i++) {
            $shown[$i].title | Should -Match ('^-*\s*Example {0}: ' -f ($i + 1))
            $shown[$i].code.Trim() | Should -Be $Examples[$i].Code.Trim()
        }
    }

    It 'has an example a newcomer can paste: it runs against the emulator without files or a key' {
        @($Examples | Where-Object { -not $_.SyntaxOnly -and $_.Fixtures.Count -eq 0 }).Count | Should -BeGreaterThan 0
    }

    It 'describes every parameter' {
        $parameters = @(if ($help.parameters.PSObject.Properties['parameter']) { $help.parameters.parameter })
        $parameters.Count | Should -Be @((Get-Command -Name $Command).Parameters.Keys | Where-Object { [System.Management.Automation.PSCmdlet]::CommonParameters -notcontains $_ }).Count
        foreach ($parameter in $parameters) {
            ($parameter.description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$($parameter.name) needs a description"
        }
    }

    It 'shows switches without a value in SYNTAX, and names only real parameters' {
        # As Get-Help prints it, with the lines it wrapped (in the middle of words too) joined again.
        $syntax = (Get-Help -Name $Command | Select-Object -ExpandProperty syntax | Out-String -Width 400) -replace '(?<!\n)\r?\n(?!\r?\n)', ''
        $syntax | Should -Not -Match '<SwitchParameter>'
        $syntax | Should -Match ([regex]::Escape($Command))
        foreach ($switch in (Get-Command -Name $Command).Parameters.Values | Where-Object { $_.SwitchParameter -and [System.Management.Automation.PSCmdlet]::CommonParameters -notcontains $_.Name }) {
            $syntax | Should -Match ('-{0}(\]|\s)' -f $switch.Name)
            $syntax | Should -Not -Match ('-{0} <' -f $switch.Name)
        }
    }

    It 'has a HelpUri, the first related link, on the project site' {
        $expected = '{0}/blob/main/docs/help/{1}.md' -f $script:projectUri, $Command
        (Get-Command -Name $Command).HelpUri | Should -Be $expected
        @($help.relatedLinks.navigationLink)[0].uri | Should -Be $expected
    }
}

Describe 'Get-Help -Online' -Skip:$IsWindows {
    It 'opens the markdown of the command on the project site' {
        # A stand-in for the browser: Get-Help -Online asks the desktop (xdg-open) to open the URI; this one writes
        # what it was given into a FIFO. The test holds the FIFO open for reading and writing (so the writer never
        # blocks) and waits on one read, which ends when the stand-in writes: a signalled wait, bounded.
        $bin = Join-Path -Path $TestDrive -ChildPath 'browser'
        $null = New-Item -ItemType Directory -Path $bin -Force
        $fifo = Join-Path -Path $TestDrive -ChildPath 'opened'
        & mkfifo $fifo
        $opener = Join-Path -Path $bin -ChildPath 'xdg-open'
        Set-Content -LiteralPath $opener -Value "#!/bin/sh`nprintf '%s' `"`$1`" > '$fifo'`n"
        & chmod +x $opener
        $stream = [System.IO.FileStream]::new($fifo, 'Open', 'ReadWrite', 'ReadWrite', 1, $false)
        $savedPath = $env:PATH
        try {
            $buffer = [byte[]]::new(4096)
            $read = $stream.ReadAsync($buffer, 0, $buffer.Length)
            $env:PATH = $bin + [System.IO.Path]::PathSeparator + $savedPath
            Get-Help -Name New-CalendarEventWatch -Online
            $read.Wait([TimeSpan]::FromSeconds(30)) | Should -BeTrue -Because 'Get-Help -Online starts the browser'
            $opened = [System.Text.Encoding]::UTF8.GetString($buffer, 0, $read.Result)
        }
        finally {
            $env:PATH = $savedPath
            $stream.Dispose()
        }

        $opened | Should -Be ('{0}/blob/main/docs/help/New-CalendarEventWatch.md' -f $script:projectUri)
    }
}

Describe 'about_CalendarWatch' {
    It 'is found by Get-Help and covers what an admin needs' {
        $text = Get-Help -Name about_CalendarWatch | Out-String
        foreach ($topic in @('CHANNELS AND THEIR LIMITS', 'THE RECORD', 'RENEWAL', 'RECEIVERS', 'QUOTAS AND THROTTLING', 'THE EMULATOR', 'ERRORS AND WHAT TO DO')) {
            $text | Should -Match ([regex]::Escape($topic))
        }
    }
}

Describe 'Example <Number> of <Command>: <Title>' -ForEach $script:exampleCases {
    It 'parses' {
        $tokens = $null
        $parseErrors = $null
        $null = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$tokens, [ref]$parseErrors)
        @($parseErrors) | Should -BeNullOrEmpty
    }

    It 'runs against the emulator without an error' -Skip:$SyntaxOnly {
        $result = Invoke-HelpExample -Example $_
        $result.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" } | Should -BeNullOrEmpty
    }
}

Describe 'The help file where Windows PowerShell looks for it' {
    # Windows PowerShell 5.1 cannot run here. Its psm1 branch imports bin/net472/CalendarWatch.dll by path, and 5.1 looks
    # for a cmdlet's CalendarWatch.dll-Help.xml only in the culture folders of the cmdlet's module's ModuleBase. This
    # imports the built module's cmdlet assembly the same way (by path, from a psm1) and checks that the cmdlets belong
    # to the module folder, where the package's single copy of the help is.
    It 'is found when the cmdlet assembly is imported by path from the module script, as on Windows PowerShell' {
        $version = Split-Path -Path (Split-Path -Path $script:manifest -Parent) -Leaf
        $copy = Join-Path -Path $TestDrive -ChildPath "byname/CalendarWatch/$version"
        $null = New-Item -ItemType Directory -Path (Split-Path -Path $copy -Parent) -Force
        Copy-Item -LiteralPath (Split-Path -Path $script:manifest -Parent) -Destination $copy -Recurse
        Set-Content -LiteralPath (Join-Path -Path $copy -ChildPath 'CalendarWatch.psm1') -Value @'
Import-Module -Name ([System.IO.Path]::Combine($PSScriptRoot, 'bin', 'net8.0', 'CalendarWatch.dll')) -ErrorAction Stop
'@
        $script = Join-Path -Path $TestDrive -ChildPath 'byname.ps1'
        Set-Content -LiteralPath $script -Value @'
Import-Module -Name $env:CW_MANIFEST -ErrorAction Stop
$command = Get-Command -Name New-CalendarEventWatch
$command.Module.ModuleBase
(Get-Help -Name New-CalendarEventWatch).Synopsis
'@
        $run = Invoke-PowerShellChild -File $script -Environment @{ CW_MANIFEST = (Join-Path -Path $copy -ChildPath 'CalendarWatch.psd1') }
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $lines = @($run.Output -split "`r?`n" | Where-Object { $_ })
        $lines[0] | Should -Be (Resolve-Path -LiteralPath $copy).ProviderPath
        $lines[1] | Should -BeLike 'Creates a push-notification channel*'
        @(Get-ChildItem -LiteralPath $copy -Recurse -Filter 'CalendarWatch.dll-Help.xml').Count | Should -Be 1
    }
}
