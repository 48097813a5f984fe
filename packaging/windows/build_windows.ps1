<#
.SYNOPSIS
    Builds bpstudio for Windows x64: a PyInstaller bundle, a .zip of it and an Inno Setup installer.

.DESCRIPTION
    From the repository root (wherever it is called from):
      1. a virtual environment build\venv-windows-<flavour> (reused when it exists; -Fresh makes a new one),
      2. pip install of the project (with PyTorch 2.13.0 for -Flavour torch) and PyInstaller 6.22,
      3. pyinstaller --noconfirm --clean packaging\bpstudio.spec with BPSTUDIO_FLAVOUR=<flavour>,
      4. a smoke run: dist\bpstudio\bpstudio.exe gui --smoke with QT_QPA_PLATFORM=offscreen (must exit 0),
      5. dist\bpstudio-<version>-windows-x64[-torch].zip (the bpstudio folder inside),
      6. dist\bpstudio-<version>-windows-x64[-torch]-setup.exe with ISCC (Inno Setup 6).
    The version is read from bpstudio\__init__.py.

.PARAMETER Flavour
    numpy (default: no PyTorch in the bundle) or torch.

.PARAMETER Python
    The Python 3.11+ interpreter that makes the virtual environment (default: python on PATH).

.PARAMETER Iscc
    Path to ISCC.exe (default: ISCC on PATH, then the usual Inno Setup 6 install folders).

.PARAMETER SkipInstaller
    Stop after the .zip (no Inno Setup needed).

.PARAMETER Fresh
    Delete and recreate the virtual environment.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File packaging\windows\build_windows.ps1 -Flavour torch
#>
[CmdletBinding()]
param(
    [ValidateSet('numpy', 'torch')]
    [string]$Flavour = 'numpy',
    [string]$Python = 'python',
    [string]$Iscc = '',
    [switch]$SkipInstaller,
    [switch]$Fresh,
    [int]$SmokeTimeoutSeconds = 180
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$ProgressPreference = 'SilentlyContinue'

function Invoke-Native {
    # runs a program and throws when it exits non-zero ($ErrorActionPreference does not cover exit codes)
    param([Parameter(Mandatory)][string]$FilePath, [string[]]$Arguments = @())
    Write-Host "+ $FilePath $($Arguments -join ' ')"
    # 'Continue' here: Windows PowerShell 5.1 turns a native program's stderr (pip's notices) into
    # terminating errors under 'Stop' when output is redirected; the exit code decides instead
    $ErrorActionPreference = 'Continue'
    & $FilePath @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "'$FilePath $($Arguments -join ' ')' failed with exit code $LASTEXITCODE"
    }
}

function Find-Iscc {
    param([string]$Given)
    if ($Given) {
        if (-not (Test-Path -LiteralPath $Given -PathType Leaf)) { throw "-Iscc '$Given' does not exist" }
        return $Given
    }
    $onPath = Get-Command 'ISCC.exe' -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($onPath) { return $onPath.Path }
    $folders = @(${env:ProgramFiles(x86)}, $env:ProgramFiles, (Join-Path $env:LOCALAPPDATA 'Programs')) |
        Where-Object { $_ }
    foreach ($folder in $folders) {
        $candidate = Join-Path $folder 'Inno Setup 6\ISCC.exe'
        if (Test-Path -LiteralPath $candidate -PathType Leaf) { return $candidate }
    }
    throw ('ISCC.exe (Inno Setup 6) not found on PATH nor in Program Files: install it ' +
           '(https://jrsoftware.org/isdl.php or "choco install innosetup"), pass -Iscc, or use -SkipInstaller')
}

function Test-TorchInBundle {
    param([string]$Bundle)
    # PyInstaller 6 puts packages under _internal; look a few levels down in case contents_directory changes
    $found = Get-ChildItem -LiteralPath $Bundle -Directory -Recurse -Depth 2 -Filter 'torch' -ErrorAction SilentlyContinue
    return [bool]$found
}

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path
Push-Location $Root
$savedQpa = $env:QT_QPA_PLATFORM
$savedFlavour = $env:BPSTUDIO_FLAVOUR
try {
    # --- version -------------------------------------------------------------------------------------
    $match = Select-String -LiteralPath 'bpstudio\__init__.py' -Pattern '^__version__\s*=\s*[''"]([^''"]+)[''"]' |
        Select-Object -First 1
    if (-not $match) { throw 'no __version__ = "..." line in bpstudio\__init__.py' }
    $Version = $match.Matches[0].Groups[1].Value
    $NumericVersion = [regex]::Match($Version, '^\d+(\.\d+){0,3}').Value
    if (-not $NumericVersion) { throw "version '$Version' does not start with a number" }
    $Suffix = if ($Flavour -eq 'torch') { '-torch' } else { '' }
    $BaseName = "bpstudio-$Version-windows-x64$Suffix"
    Write-Host "bpstudio $Version, flavour $Flavour -> dist\$BaseName.zip, dist\$BaseName-setup.exe"

    # --- virtual environment ------------------------------------------------------------------------
    $Venv = Join-Path $Root "build\venv-windows-$Flavour"
    $VenvPython = Join-Path $Venv 'Scripts\python.exe'
    if ($Fresh -and (Test-Path -LiteralPath $Venv)) { Remove-Item -LiteralPath $Venv -Recurse -Force }
    if (-not (Test-Path -LiteralPath $VenvPython)) {
        Invoke-Native $Python @('-c', 'import sys; assert sys.version_info >= (3, 11), sys.version')
        Invoke-Native $Python @('-m', 'venv', $Venv)
    }
    Invoke-Native $VenvPython @('-m', 'pip', 'install', '--upgrade', 'pip')
    Invoke-Native $VenvPython @('-m', 'pip', 'install', 'pyinstaller==6.22.*')
    if ($Flavour -eq 'torch') {
        # pinned: PyPI's Windows torch wheels are CPU-only; 2.13.0 is the version the project tests with
        Invoke-Native $VenvPython @('-m', 'pip', 'install', '-e', '.[torch]', 'torch==2.13.0')
    } else {
        Invoke-Native $VenvPython @('-m', 'pip', 'install', '-e', '.')
    }

    # --- PyInstaller ---------------------------------------------------------------------------------
    $env:BPSTUDIO_FLAVOUR = $Flavour
    Invoke-Native $VenvPython @('-m', 'PyInstaller', '--noconfirm', '--clean', 'packaging\bpstudio.spec')
    $Bundle = Join-Path $Root 'dist\bpstudio'
    $Exe = Join-Path $Bundle 'bpstudio.exe'
    if (-not (Test-Path -LiteralPath $Exe -PathType Leaf)) { throw "PyInstaller made no $Exe" }
    $hasTorch = Test-TorchInBundle $Bundle
    if ($Flavour -eq 'torch' -and -not $hasTorch) { throw 'torch flavour, but no torch package in the bundle' }
    if ($Flavour -eq 'numpy' -and $hasTorch) { throw 'numpy flavour, but the bundle contains torch' }

    # --- smoke run -------------------------------------------------------------------------------------
    # bpstudio.exe is a windowed (GUI-subsystem) program: PowerShell would not wait for it with '&', so
    # Start-Process; a hang (e.g. a PyInstaller error dialog) is killed after the timeout and fails the build.
    $env:QT_QPA_PLATFORM = 'offscreen'
    $smokeOut = Join-Path $Root 'build\smoke-windows-stdout.txt'
    $smokeErr = Join-Path $Root 'build\smoke-windows-stderr.txt'
    Write-Host "+ $Exe gui --smoke (QT_QPA_PLATFORM=offscreen)"
    $proc = Start-Process -FilePath $Exe -ArgumentList 'gui', '--smoke' -WorkingDirectory $Root -PassThru `
        -NoNewWindow -RedirectStandardOutput $smokeOut -RedirectStandardError $smokeErr
    $null = $proc.Handle  # keeps the process handle open, or ExitCode can read as $null after exit
    if (-not $proc.WaitForExit($SmokeTimeoutSeconds * 1000)) {
        Stop-Process -Id $proc.Id -Force -ErrorAction SilentlyContinue
        throw "smoke run did not finish within $SmokeTimeoutSeconds s"
    }
    $proc.WaitForExit()  # lets the redirected output be flushed
    foreach ($log in @($smokeOut, $smokeErr)) {
        if (Test-Path -LiteralPath $log) { Get-Content -LiteralPath $log | ForEach-Object { Write-Host "  | $_" } }
    }
    if ($proc.ExitCode -ne 0) { throw "smoke run exited with $($proc.ExitCode)" }
    Write-Host 'smoke run: exit 0'
    $env:QT_QPA_PLATFORM = $savedQpa

    # --- zip -------------------------------------------------------------------------------------------
    # Python's zipfile (not Compress-Archive: 2 GB limit and backslashed entry names in Windows PowerShell 5.1)
    $Zip = Join-Path $Root "dist\$BaseName.zip"
    if (Test-Path -LiteralPath $Zip) { Remove-Item -LiteralPath $Zip -Force }
    Invoke-Native $VenvPython @('-m', 'zipfile', '-c', $Zip, $Bundle)
    Write-Host ("{0} ({1:N0} MB)" -f $Zip, ((Get-Item -LiteralPath $Zip).Length / 1MB))

    # --- installer -----------------------------------------------------------------------------------
    if ($SkipInstaller) {
        Write-Host 'skipping the installer (-SkipInstaller)'
    } else {
        $IsccExe = Find-Iscc $Iscc
        $Setup = Join-Path $Root "dist\$BaseName-setup.exe"
        if (Test-Path -LiteralPath $Setup) { Remove-Item -LiteralPath $Setup -Force }
        Invoke-Native $IsccExe @("/DAppVersion=$Version", "/DNumericVersion=$NumericVersion",
                                 "/DFlavour=$Flavour", (Join-Path $Root 'packaging\windows\bpstudio.iss'))
        if (-not (Test-Path -LiteralPath $Setup -PathType Leaf)) { throw "ISCC made no $Setup" }
        Write-Host ("{0} ({1:N0} MB)" -f $Setup, ((Get-Item -LiteralPath $Setup).Length / 1MB))
    }
} finally {
    $env:QT_QPA_PLATFORM = $savedQpa
    $env:BPSTUDIO_FLAVOUR = $savedFlavour
    Pop-Location
}
