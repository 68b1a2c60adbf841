// pulumi-language-python: a small Python language host for the Pulumi CLI,
// written for this project because the upstream host module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) is not
// available from our Go module proxy.
//
// It implements the parts of the LanguageRuntime gRPC service that
// `pulumi preview/up/destroy/refresh/install/about` use for a pip + virtualenv
// project:
//   - GetPluginInfo, Handshake
//   - GetRequiredPlugins: reads pulumi-plugin.json of every installed package
//     (the CLI falls back to this when GetRequiredPackages is unimplemented)
//   - Run: execs `<python> -u pulumi-language-python-exec --monitor ... PROGRAM`
//     (the exec script of the pinned pulumi SDK sits next to this binary)
//   - InstallDependencies: creates the virtualenv, pip installs requirements.txt
//   - About, GetProgramDependencies
// Everything else answers Unimplemented. Only the `virtualenv` runtime option is
// supported (toolchain: pip); without it, $PULUMI_PYTHON_CMD or python3 is used.
//
// Usage (started by the CLI): pulumi-language-python [-flags ignored] ENGINE_ADDRESS
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	pbempty "google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit code the exec script uses after it has already shown the user an error.
const exitAfterUserMessage = 32

func main() {
	// Older CLIs pass runtime options as flags; accept and ignore the known ones.
	fs := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	for _, f := range []string{"tracing", "root", "virtualenv", "toolchain", "typechecker", "use-executor"} {
		fs.String(f, "", "ignored")
	}
	_ = fs.Bool("logtostderr", false, "ignored")
	_ = fs.Int("v", 0, "ignored")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	engine := ""
	if fs.NArg() > 0 {
		engine = fs.Arg(0)
	}

	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot locate own executable: %v\n", err)
		os.Exit(1)
	}
	execScript := filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	if _, err := os.Stat(execScript); err != nil {
		fmt.Fprintf(os.Stderr, "missing executor %s: %v\n", execScript, err)
		os.Exit(1)
	}

	host := &pythonHost{engine: engine, execScript: execScript}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start language host: %v\n", err)
		os.Exit(1)
	}
	// The CLI reads the port from our first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host: %v\n", err)
		os.Exit(1)
	}
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engine     string
	execScript string
}

// --- locating the Python interpreter ---------------------------------------

// python describes the interpreter for one program: the executable and, when
// the `virtualenv` option is set, the absolute virtualenv directory.
type python struct {
	exe     string
	venv    string // "" when not using a virtualenv
	rootDir string
}

func optionString(info *pulumirpc.ProgramInfo, key string) string {
	if info == nil || info.Options == nil {
		return ""
	}
	if v, ok := info.Options.Fields[key]; ok {
		return v.GetStringValue()
	}
	return ""
}

// resolvePython picks the interpreter: <root>/<virtualenv>/bin/python if the
// project sets runtime.options.virtualenv, else $PULUMI_PYTHON_CMD or python3.
func resolvePython(info *pulumirpc.ProgramInfo, mustExist bool) (python, error) {
	root := ""
	if info != nil {
		root = info.RootDirectory
	}
	venv := optionString(info, "virtualenv")
	if tc := optionString(info, "toolchain"); tc != "" && tc != "pip" {
		return python{}, fmt.Errorf("runtime option toolchain=%q is not supported by this language host (only pip)", tc)
	}
	if venv == "" {
		cmd := os.Getenv("PULUMI_PYTHON_CMD")
		if cmd == "" {
			cmd = "python3"
		}
		return python{exe: cmd, rootDir: root}, nil
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(root, venv)
	}
	exe := filepath.Join(venv, "bin", "python")
	if mustExist {
		if _, err := os.Stat(exe); err != nil {
			return python{}, fmt.Errorf(
				"the 'virtualenv' option in Pulumi.yaml is set to %q, but %s does not exist; create it with:\n"+
					"    python3 -m venv %s && %s -m pip install -r %s",
				optionString(info, "virtualenv"), exe, venv, exe, filepath.Join(root, "requirements.txt"))
		}
	}
	return python{exe: exe, venv: venv, rootDir: root}, nil
}

// env returns the environment for a Python child: the virtualenv activated
// (VIRTUAL_ENV, PATH, no PYTHONHOME) plus extra KEY=VALUE entries.
func (p python) env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k := kv[:strings.IndexByte(kv+"=", '=')]
		if p.venv != "" && (k == "PYTHONHOME" || k == "VIRTUAL_ENV" || k == "PATH") {
			continue
		}
		out = append(out, kv)
	}
	if p.venv != "" {
		out = append(out,
			"VIRTUAL_ENV="+p.venv,
			"PATH="+filepath.Join(p.venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	return append(out, extra...)
}

func (p python) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, p.exe, args...)
	cmd.Dir = dir
	cmd.Env = p.env()
	return cmd
}

// --- plugin discovery --------------------------------------------------------

// listPlugins prints, as JSON, the pulumi-plugin.json contents of every
// installed distribution that ships one (this is how Pulumi Python packages
// declare which resource plugin, at which version, they need).
const listPlugins = `
import json, importlib.metadata as md
out = []
for d in md.distributions():
    for f in d.files or []:
        if f.name == "pulumi-plugin.json" and len(f.parts) == 2:
            try:
                spec = json.loads(f.read_text())
            except Exception:
                continue
            spec.setdefault("name", d.metadata["Name"].removeprefix("pulumi-").removeprefix("pulumi_"))
            spec.setdefault("version", d.version)
            spec["_package"] = d.metadata["Name"]
            out.append(spec)
print(json.dumps(out))
`

type pluginSpec struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Server   string `json:"server"`
	Package  string `json:"_package"`
}

func (h *pythonHost) GetRequiredPlugins(ctx context.Context,
	req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	py, err := resolvePython(req.GetInfo(), true)
	if err != nil {
		return nil, err
	}
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetPwd()
	}
	var stderr bytes.Buffer
	cmd := py.command(ctx, dir, "-c", listPlugins)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing Pulumi packages with %s: %w: %s", py.exe, err, stderr.String())
	}
	var specs []pluginSpec
	if err := json.Unmarshal(out, &specs); err != nil {
		return nil, fmt.Errorf("parsing package list: %w", err)
	}
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, s := range specs {
		if !s.Resource {
			continue
		}
		v := s.Version
		if v != "" && !strings.HasPrefix(v, "v") {
			v = "v" + v
		}
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: s.Name, Kind: "resource", Version: v, Server: s.Server,
		})
	}
	return resp, nil
}

// --- running the program -----------------------------------------------------

func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	py, err := resolvePython(req.GetInfo(), true)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	program := req.GetProgram()
	if program == "" {
		program = "."
	}
	pwd := req.GetPwd()

	// Arguments understood by pulumi-language-python-exec (argparse there).
	args := []string{"-u", h.execScript,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engine,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
	}
	if pwd != "" {
		args = append(args, "--pwd", pwd)
	}
	if org := req.GetOrganization(); org != "" {
		args = append(args, "--organization", org)
	}
	if root := req.GetInfo().GetRootDirectory(); root != "" {
		args = append(args, "--root_directory", root)
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{} // the SDK expects a JSON object, not null
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, py.exe, args...)
	cmd.Dir = pwd
	cmd.Env = py.env("PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	// The CLI shows our stdout/stderr to the user.
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitAfterUserMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run %s): %v", py.exe, err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// --- small RPCs --------------------------------------------------------------

func (h *pythonHost) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *pythonHost) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engine = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	py, err := resolvePython(req.GetInfo(), true)
	if err != nil {
		return nil, err
	}
	out, err := py.command(ctx, req.GetInfo().GetProgramDirectory(), "-c",
		"import sys; print(sys.executable); print('.'.join(map(str, sys.version_info[:3])))").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", py.exe, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	resp := &pulumirpc.AboutResponse{Executable: lines[0]}
	if len(lines) > 1 {
		resp.Version = lines[1]
	}
	return resp, nil
}

func (h *pythonHost) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	py, err := resolvePython(req.GetInfo(), true)
	if err != nil {
		return nil, err
	}
	out, err := py.command(ctx, req.GetInfo().GetProgramDirectory(), "-c",
		"import json, importlib.metadata as md; "+
			"print(json.dumps(sorted({d.metadata['Name']: d.version for d in md.distributions()}.items())))").Output()
	if err != nil {
		return nil, fmt.Errorf("listing packages with %s: %w", py.exe, err)
	}
	var pairs [][2]string
	if err := json.Unmarshal(out, &pairs); err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pairs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p[0], Version: p[1]})
	}
	return resp, nil
}

// InstallDependencies (pulumi install / pulumi new): create the virtualenv if
// needed and pip install requirements.txt into it, streaming pip's output.
func (h *pythonHost) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	ctx := server.Context()
	py, err := resolvePython(req.GetInfo(), false)
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	stdout := &streamWriter{send: func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b})
	}}
	stderr := &streamWriter{send: func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b})
	}}
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = py.env()
		cmd.Stdout, cmd.Stderr = stdout, stderr
		fmt.Fprintf(stdout, "$ %s %s\n", name, strings.Join(args, " "))
		return cmd.Run()
	}
	if py.venv != "" {
		if _, err := os.Stat(py.exe); err != nil {
			base := os.Getenv("PULUMI_PYTHON_CMD")
			if base == "" {
				base = "python3"
			}
			if err := run(base, "-m", "venv", py.venv); err != nil {
				return fmt.Errorf("creating virtualenv %s: %w", py.venv, err)
			}
		}
	}
	reqs := filepath.Join(dir, "requirements.txt")
	if _, err := os.Stat(reqs); err != nil {
		if py.rootDir != "" {
			reqs = filepath.Join(py.rootDir, "requirements.txt")
		}
	}
	if _, err := os.Stat(reqs); err != nil {
		fmt.Fprintln(stdout, "no requirements.txt; nothing to install")
		return nil
	}
	if err := run(py.exe, "-m", "pip", "install", "-r", reqs); err != nil {
		return fmt.Errorf("pip install -r %s: %w", reqs, err)
	}
	return nil
}

// streamWriter adapts a gRPC stream Send to io.Writer.
type streamWriter struct{ send func([]byte) error }

func (w *streamWriter) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...)
	if err := w.send(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

var _ io.Writer = (*streamWriter)(nil)

// RuntimeOptionsPrompts: no interactive prompts (the CLI treats Unimplemented the same).
func (h *pythonHost) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return nil, status.Error(codes.Unimplemented, "no runtime option prompts")
}
