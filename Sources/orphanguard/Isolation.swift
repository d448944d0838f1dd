import ArgumentParser
import Glibc
import LauncherSys

/// `--isolate`: CMD runs in a pid namespace of its own (with a private mount namespace and a fresh
/// /proc, and without root a user namespace that maps the caller's ids to themselves), so the kernel
/// ends every process of the job when the namespace's init dies, whatever binary it runs.
///
/// Two processes: the launcher stays outside (killable, forwarding signals, passing CMD's status
/// on) and an init inside, the launcher again (`--isolate-init FD`), which supervises CMD as the
/// launcher does without `--isolate`. The init's PR_SET_PDEATHSIG tells it the launcher died: CMD
/// then gets the configured signal, as a CMD started outside gets it, and after the grace period the
/// init exits, which kills the rest.
enum IsolationMode: String, ExpressibleByArgument, CaseIterable {
    case on, auto, off

    /// ORPHANGUARD_ISOLATE, for an entrypoint whose command line is fixed.
    static let variable = "ORPHANGUARD_ISOLATE"

    /// The option if given, else the variable; nil for a value neither names.
    static func resolve(option: IsolationMode?) -> IsolationMode? {
        if let option { return option }
        guard let value = getenv(variable).map({ String(cString: $0) }) else { return .off }
        switch value.lowercased() {
        case "1", "on", "yes", "true": return .on
        case "", "0", "off", "no", "false": return .off
        case "auto": return .auto
        default: return nil
        }
    }

    /// ArgumentParser has no option with an optional value: a bare `--isolate` (before `--`, and
    /// not followed by a mode) is read as `--isolate=on`.
    static func normalized(_ arguments: [String]) -> [String] {
        var result = arguments
        for (index, argument) in arguments.enumerated() {
            if argument == "--" { break }
            let next = arguments.index(after: index) < arguments.endIndex ? arguments[index + 1] : nil
            if argument == "--isolate", !allCases.map(\.rawValue).contains(next ?? "") { result[index] = "--isolate=on" }
        }
        return result
    }
}

enum Isolation {
    /// The launcher's side: starts the init and waits for it, forwarding signals. Returns the exit
    /// code, or nil when `auto` found no namespaces to make (after one line saying why).
    static func launch(mode: IsolationMode, arguments: [String]) -> Int32? {
        var handled = sigset_t(), original = sigset_t()
        sigemptyset(&handled)
        for sig in Supervisor.forwarded + Supervisor.stops + [SIGCHLD] { sigaddset(&handled, sig) }
        // Blocked before the init exists, so no signal meant for the job is lost in between.
        if sigprocmask(SIG_BLOCK, &handled, &original) != 0 {
            fail("--isolate: sigprocmask: \(String(cString: strerror(errno)))")
        }
        var lifeline: [Int32] = [-1, -1]
        let err = og_isolate_lifeline(&lifeline)
        if err != 0 { fail("--isolate: pipe: \(String(cString: strerror(err)))") }
        // The init is this launcher again, told which descriptor is its lifeline.
        let argv = [arguments[0], arguments[1], "--isolate-init", String(lifeline[0])] + arguments.dropFirst(2)
        var started = start(argv, mask: &original, lifeline: lifeline)
        if case .failure(let problem) = started, problem.stage == OG_ISOLATE_CLONE, geteuid() == 0,
           problem.errno == EPERM {
            // Root without CAP_SYS_ADMIN (a container's root): a user namespace may still be allowed.
            started = start(argv, mask: &original, lifeline: lifeline, userNamespace: true)
        }
        close(lifeline[0])
        switch started {
        case .success(let pid):
            return forward(to: pid, handled: &handled)
        case .failure(let problem):
            close(lifeline[1])
            sigprocmask(SIG_SETMASK, &original, nil)
            if mode == .auto {
                report("--isolate=auto: \(problem); running without isolation")
                return nil
            }
            fail("--isolate: \(problem)")
        }
    }

    struct Problem: Error, CustomStringConvertible {
        let stage: Int32
        let errno: Int32
        let userNamespace: Bool

        var description: String { "cannot create the job's namespaces: " + Diagnosis.reason(self) }
    }

    /// This launcher's file, by name, so the init is named `orphanguard` in `ps` too (exec'ing
    /// /proc/self/exe would name it `exe`); /proc/self/exe where the file has gone.
    private static let executable: String = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return "/proc/self/exe" }
        let path = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.hasSuffix(" (deleted)") || access(path, X_OK) != 0 ? "/proc/self/exe" : path
    }()

    private static func start(_ argv: [String], mask: inout sigset_t, lifeline: [Int32],
                              userNamespace: Bool = geteuid() != 0) -> Result<pid_t, Problem> {
        var cArgv = argv.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) } }
        var pid: pid_t = 0
        var stage: Int32 = 0
        let err = og_isolate_spawn(executable, &cArgv, environ, &mask, userNamespace ? 1 : 0,
                                   og_isolate_parent_death_signal(), lifeline[0], lifeline[1], &pid, &stage)
        if err != 0 { return .failure(Problem(stage: stage, errno: err, userNamespace: userNamespace)) }
        return .success(pid)
    }

    /// Passes signals on to the init (which passes them on to CMD) until it exits; its status.
    /// A terminal's signals reach the init and CMD directly (the same process group), so they are
    /// not passed on; a terminal's stop stops this launcher too, so the shell sees the job stop.
    /// Every child is reaped: as a container's PID 1 others may be re-parented to us.
    private static func forward(to initPid: pid_t, handled: inout sigset_t) -> Int32 {
        var info = siginfo_t()
        while true {
            let sig = sigwaitinfo(&handled, &info)
            if sig < 0 { continue }
            if sig == SIGCHLD {
                var status: Int32 = 0
                while case let pid = waitpid(-1, &status, WNOHANG), pid > 0 || (pid < 0 && errno == EINTR) {
                    guard pid == initPid else { continue }
                    if og_wait_exited(status) != 0 { return og_wait_exit_status(status) }
                    if og_wait_signaled(status) != 0 { return 128 + og_wait_term_signal(status) }
                }
                continue
            }
            let fromTerminal = og_siginfo_code(&info) == SI_KERNEL
            if !fromTerminal { kill(initPid, sig) }
            if Supervisor.stops.contains(sig) { kill(getpid(), SIGSTOP) }
        }
    }

    /// The init's side, before it supervises CMD: PR_SET_PDEATHSIG again (it survives the exec, but
    /// a preloaded library's constructor may arm its own for a namespace's init), then the check that
    /// the launcher is still there. Gives the Supervisor its parent-death hook.
    static func becomeInit(_ supervisor: Supervisor, lifeline: Int32, graceMilliseconds: Int) {
        let sig = og_isolate_parent_death_signal()
        let err = og_isolate_arm_parent_death(sig)
        if err != 0 { fail("--isolate: PR_SET_PDEATHSIG: \(String(cString: strerror(err)))") }
        if og_isolate_lifeline_cut(lifeline) != 0 { exit(128 + SIGKILL) }
        if og_isolate_keep_private(lifeline) != 0 { fail("--isolate: descriptor \(lifeline) is not the lifeline") }
        supervisor.parentDeath = (signal: sig, confirm: {
            // Anyone of our uid may send the signal; only the closed pipe says the launcher is gone.
            guard og_isolate_lifeline_cut(lifeline) != 0 else { return false }
            let err = og_isolate_arm_deadline(graceMilliseconds)
            if err != 0 { _exit(128 + SIGKILL) } // no timer: no grace, the kernel ends the job now
            return true
        })
    }
}

/// Why namespaces could not be made, naming the setting that decides.
enum Diagnosis {
    static func reason(_ problem: Isolation.Problem) -> String {
        let err = String(cString: strerror(problem.errno))
        switch Int(problem.stage) {
        case Int(OG_ISOLATE_CLONE):
            return cloneReason(problem) + " (clone: \(err))"
        case Int(OG_ISOLATE_SETGROUPS), Int(OG_ISOLATE_UID_MAP), Int(OG_ISOLATE_GID_MAP):
            let file = ["setgroups", "uid_map", "gid_map"][Int(problem.stage) - Int(OG_ISOLATE_SETGROUPS)]
            return (appArmor() ?? "the new user namespace may not map the caller's ids") + " (/proc/self/\(file): \(err))"
        case Int(OG_ISOLATE_MOUNT_PRIVATE), Int(OG_ISOLATE_MOUNT_PROC):
            let what = problem.stage == OG_ISOLATE_MOUNT_PROC ? "mount proc on /proc" : "make / private"
            return (appArmor() ?? (problem.stage == OG_ISOLATE_MOUNT_PROC
                ? "a fresh /proc may not be mounted here: a container runtime masks parts of /proc (Docker, Podman: --security-opt systempaths=unconfined)"
                : "the mount namespace cannot be made private")) + " (\(what): \(err))"
        case Int(OG_ISOLATE_EXEC):
            return "cannot start the namespace's init: /proc/self/exe: \(err)"
        default:
            return "PR_SET_PDEATHSIG: \(err)"
        }
    }

    private static func cloneReason(_ problem: Isolation.Problem) -> String {
        if problem.errno == ENOSPC || problem.errno == EUSERS {
            for name in (problem.userNamespace ? ["user.max_user_namespaces"] : []) + ["user.max_pid_namespaces", "user.max_mnt_namespaces"] {
                if let value = sysctl(name) {
                    if value == "0" { return "\(name.hasPrefix("user.max_user") ? "user" : name.hasPrefix("user.max_pid") ? "pid" : "mount") namespaces are disabled (sysctl \(name)=0)" }
                }
            }
            return "the limit of namespaces is reached (sysctl user.max_user_namespaces=\(sysctl("user.max_user_namespaces") ?? "?"), user.max_pid_namespaces=\(sysctl("user.max_pid_namespaces") ?? "?"); or 32 nested levels)"
        }
        if og_seccomp_mode() == 2 && problem.errno == ENOSYS { return seccomp }
        guard problem.errno == EPERM else { return "the kernel refused" }
        if !problem.userNamespace {
            return "creating a pid namespace needs CAP_SYS_ADMIN"
        }
        if sysctl("kernel.unprivileged_userns_clone") == "0" {
            return "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0)"
        }
        if let apparmor = appArmor() { return apparmor }
        if og_seccomp_mode() == 2 {
            return seccomp
        }
        return "user namespaces are not permitted here (a chroot, or a security module)"
    }

    private static let seccomp = "a seccomp filter denies new namespaces (a container runtime's profile: Docker, Podman: --security-opt seccomp=unconfined, or a profile that allows clone and unshare with CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNS)"

    private static func appArmor() -> String? {
        guard geteuid() != 0, sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1" else { return nil }
        return "AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=1; allow them with an AppArmor profile for orphanguard)"
    }

    /// A sysctl's value, nil where the kernel has no such setting.
    private static func sysctl(_ name: String) -> String? {
        guard let bytes = readFile("/proc/sys/" + name.replacingOccurrences(".", with: "/"), limit: 64) else { return nil }
        return String(decoding: bytes, as: UTF8.self).trimmingSpace()
    }
}

private extension String {
    func replacingOccurrences(_ old: Character, with new: String) -> String {
        split(separator: old, omittingEmptySubsequences: false).joined(separator: new)
    }

    func trimmingSpace() -> String {
        String(self.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
