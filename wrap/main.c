/* protect-wrap: run a program with protected libraries, and the tools that
 * go with it (policy validation, policy generation, library checks). */
#include "check_report.h"
#include "gen_policy.h"
#include "launch.h"
#include "learn.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PROTECT_VERSION
#define PROTECT_VERSION "unknown"
#endif

static const char usage[] =
    "Usage: protect-wrap --policy FILE [--policy FILE]... [--verbose] [--] PROGRAM [ARG]...\n"
    "       protect-wrap --learn LIBRARY [--output FILE] [--] PROGRAM [ARG]...\n"
    "       protect-wrap --validate FILE...\n"
    "       protect-wrap --gen-policy LIBRARY\n"
    "       protect-wrap --check [--json] LIBRARY...\n"
    "\n"
    "Runs PROGRAM, unmodified, with each library named by a policy moved into its own\n"
    "memory protection key (PKU): its exported functions run behind gates, and the\n"
    "program's own code can no longer write (or, in confidential mode, read) its memory.\n"
    "The same as: LD_PRELOAD=libprotect.so PROTECT_POLICY=FILE[:FILE]... LD_BIND_NOW=1 PROGRAM\n"
    "\n"
    "  -p, --policy FILE   protect the library that FILE describes (repeatable, up to 15)\n"
    "  -v, --verbose       say what is protected and how\n"
    "      --stats[=FILE]  at exit, each protected library's counters: a table on stderr, or\n"
    "                      JSON in FILE (protect-top shows them live)\n"
    "      --audit[=FILE]  protection on, but an access a key stops is recorded and let through\n"
    "                      (that one instruction), and the program runs on: a summary at\n"
    "                      exit, and the records as JSON in FILE\n"
    "      --learn LIBRARY run PROGRAM with LIBRARY protected and watched (audit; a dry run\n"
    "                      where there is no PKU) and write a policy for it from what it did:\n"
    "                      callbacks, heap = app, writes that need a decision, unused exports\n"
    "  -o, --output FILE   where --learn writes the policy (default: standard output)\n"
    "      --dry-run       gate the libraries without protecting them (no keys): see whether\n"
    "                      PROGRAM works behind the gates and what they cost, on any x86-64\n"
    "      --no-hardened   for debugging only: let the program change PKRU and the protected\n"
    "                      memory's mappings itself (no system-call filter, no guards)\n"
    "      --validate      check policy files and exit: 0 valid, 1 invalid\n"
    "      --gen-policy    print a commented starting policy for LIBRARY\n"
    "      --check         report which exports can be gated and any instruction that\n"
    "                      could change PKRU (WRPKRU, XRSTOR); --json for one JSON document.\n"
    "                      A LIBRARY without '/' is searched for as the loader would\n"
    "  -h, --help          this text\n"
    "      --version       the version\n"
    "\n"
    "Exit status: PROGRAM's own; 1 invalid policy, or no PKU on this machine (without --dry-run);\n"
    "2 bad usage or unreadable library; 126 PROGRAM not executable; 127 PROGRAM not found.\n"
    "\n"
    "Environment read by libprotect.so: PROTECT_POLICY (policy files, ':'-separated),\n"
    "PROTECT_VERBOSE=1 (what was protected), PROTECT_HARDENED=0 (as --no-hardened),\n"
    "PROTECT_DRY_RUN=1 (as --dry-run), PROTECT_AUDIT=1|FILE (as --audit), PROTECT_STATS=1|FILE\n"
    "(as --stats), PROTECT_TELEMETRY=0 (publish nothing for protect-top), PROTECT_NO_BREAKPOINTS=1 (defer signals without\n"
    "hardware breakpoints, for testing that path).  Hardened mode needs LD_BIND_NOW=1, which protect-wrap sets.\n";

enum mode { RUN, VALIDATE, GEN_POLICY, CHECK, LEARN };

static int bad_usage(const char *msg)
{
    fprintf(stderr, "protect-wrap: %s\nTry 'protect-wrap --help'.\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    enum { OPT_VALIDATE = 256, OPT_GEN, OPT_CHECK, OPT_JSON, OPT_VERSION, OPT_NO_HARDENED, OPT_DRY_RUN, OPT_AUDIT, OPT_LEARN, OPT_STATS };
    static const struct option options[] = {
        {"policy", required_argument, NULL, 'p'}, {"verbose", no_argument, NULL, 'v'},
        {"validate", no_argument, NULL, OPT_VALIDATE}, {"gen-policy", no_argument, NULL, OPT_GEN},
        {"check", no_argument, NULL, OPT_CHECK}, {"json", no_argument, NULL, OPT_JSON},
        {"no-hardened", no_argument, NULL, OPT_NO_HARDENED}, {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"audit", optional_argument, NULL, OPT_AUDIT}, {"learn", required_argument, NULL, OPT_LEARN},
        {"output", required_argument, NULL, 'o'}, {"stats", optional_argument, NULL, OPT_STATS}, {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    enum mode mode = RUN;
    bool json = false, mode_set = false;
    const char *learn_lib = NULL, *output = NULL;
    struct launch_options run = {.hardened = true};
    char **policies = calloc((size_t)argc + 1, sizeof *policies);
    int n_policies = 0, opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+p:vho:", options, NULL)) != -1) {
        enum mode chosen = RUN;
        switch (opt) {
        case 'p': policies[n_policies++] = optarg; continue;
        case 'v': run.verbose = true; continue;
        case OPT_NO_HARDENED: run.hardened = false; continue;
        case OPT_DRY_RUN: run.dry_run = true; continue;
        case OPT_AUDIT: run.audit = optarg ? optarg : "1"; continue;
        case OPT_STATS: run.stats = optarg ? optarg : "1"; continue;
        case 'o': output = optarg; continue;
        case OPT_LEARN: learn_lib = optarg; chosen = LEARN; break;
        case OPT_JSON: json = true; continue;
        case 'h': fputs(usage, stdout); return 0;
        case OPT_VERSION: printf("protect-wrap %s\n", PROTECT_VERSION); return 0;
        case OPT_VALIDATE: chosen = VALIDATE; break;
        case OPT_GEN: chosen = GEN_POLICY; break;
        case OPT_CHECK: chosen = CHECK; break;
        default: {
            char msg[128];
            if (optopt == 'p' || (optopt == 0 && argv[optind - 1][1] == '-' && strncmp(argv[optind - 1], "--policy", 8) == 0))
                snprintf(msg, sizeof msg, "--policy needs a FILE");
            else if (optopt == OPT_LEARN)
                snprintf(msg, sizeof msg, "--learn needs a LIBRARY");
            else if (optopt == 'o')
                snprintf(msg, sizeof msg, "--output needs a FILE");
            else
                snprintf(msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
            return bad_usage(msg);
        }
        }
        if (mode_set && chosen != mode)
            return bad_usage("--validate, --gen-policy, --check and --learn exclude each other");
        mode = chosen;
        mode_set = true;
    }
    char **rest = argv + optind;
    int n_rest = argc - optind;
    if (json && mode != CHECK)
        return bad_usage("--json goes with --check");
    if (mode != RUN && mode != LEARN && (n_policies || !run.hardened || run.dry_run || run.audit || run.stats))
        return bad_usage("--policy, --dry-run, --audit, --stats and --no-hardened are for running a program");
    if (mode == LEARN && (n_policies || run.audit))
        return bad_usage("--learn makes its own policy and audits by itself: no --policy or --audit");
    if (output && mode != LEARN)
        return bad_usage("--output goes with --learn");
    switch (mode) {
    case VALIDATE:
        if (n_rest == 0)
            return bad_usage("--validate needs at least one policy FILE");
        return validate_policies(rest, n_rest, stderr, true) ? 1 : 0;
    case GEN_POLICY:
        if (n_rest != 1)
            return bad_usage("--gen-policy takes exactly one LIBRARY");
        return gen_policy(rest[0]);
    case CHECK:
        if (n_rest == 0)
            return bad_usage("--check needs at least one LIBRARY");
        return check_libraries(rest, n_rest, json);
    case LEARN:
        if (n_rest == 0)
            return bad_usage("no PROGRAM to run");
        return learn_policy(learn_lib, output ? output : "-", &run, rest);
    case RUN:
        break;
    }
    if (n_rest == 0)
        return bad_usage("no PROGRAM to run");
    if (n_policies == 0)
        return bad_usage("no --policy given: nothing to protect");
    if (n_policies > 15)
        return bad_usage("at most 15 policies (one protection key each)");
    return launch(policies, n_policies, &run, rest);
}
