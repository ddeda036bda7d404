// Package deploy tests the Kubernetes manifests of kubernetes/ against the
// code they deploy: each is decoded strictly with the k8s.io/api types, and
// its probes, variables, ports, grace period and janitor flags are checked
// against the built example and dcr-janitor.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kinds are the objects the manifests may hold, by apiVersion and kind.
var kinds = map[string]func() any{
	"apps/v1 Deployment":            func() any { return new(appsv1.Deployment) },
	"v1 Service":                    func() any { return new(corev1.Service) },
	"policy/v1 PodDisruptionBudget": func() any { return new(policyv1.PodDisruptionBudget) },
	"batch/v1 CronJob":              func() any { return new(batchv1.CronJob) },
	"v1 PersistentVolumeClaim":      func() any { return new(corev1.PersistentVolumeClaim) },
}

// decode decodes one manifest strictly, as kubectl apply
// --validate=strict (the default) has the API server do: an unknown,
// misspelt (even in case only) or duplicate field is an error, and so is a
// kind not in kinds.
func decode(data []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+" "+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("apiVersion %q kind %q is not one the manifests use", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		return nil, err
	}
	// sigs.k8s.io/yaml matches field names as encoding/json does, ignoring
	// case; the API server does not (containerport is not containerPort):
	// decode the JSON again as it does.
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	strict, err := kjson.UnmarshalStrict(j, newObj())
	if err != nil {
		return nil, err
	}
	return obj, errors.Join(strict...)
}

// manifests are the decoded objects of kubernetes/.
type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	cronJob    *batchv1.CronJob
	pvcs       map[string]*corev1.PersistentVolumeClaim
}

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := manifests{pvcs: map[string]*corev1.PersistentVolumeClaim{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("\n---")) {
			t.Fatalf("%s: one object per file", f)
		}
		obj, err := decode(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			m.deployment = o
		case *corev1.Service:
			m.service = o
		case *policyv1.PodDisruptionBudget:
			m.pdb = o
		case *batchv1.CronJob:
			m.cronJob = o
		case *corev1.PersistentVolumeClaim:
			m.pvcs[o.Name] = o
		}
	}
	if m.deployment == nil || m.service == nil || m.pdb == nil || m.cronJob == nil {
		t.Fatalf("want a Deployment, a Service, a PodDisruptionBudget and a CronJob in kubernetes/")
	}
	return m
}

// TestStrictDecoding: a misspelt or unknown field anywhere fails the
// decoding, as it would fail kubectl apply --validate=strict; the
// manifests as they are decode.
func TestStrictDecoding(t *testing.T) {
	load(t)
	data, err := os.ReadFile("kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to string }{
		{"readinessProbe:", "readinesProbe:"},
		{"terminationGracePeriodSeconds:", "terminationGracePeriodSecond:"},
		{"readOnlyRootFilesystem:", "readOnlyRootFileSystem:"},
		{"allowPrivilegeEscalation:", "allowPrivilegeEscallation:"},
		{"containerPort: 8080", "containerport: 8080"},
		{"replicas: 2", "replicas: 2\n  replica: 3"},
		{"kind: Deployment", "kind: Deploymnet"},
	} {
		bad := bytes.Replace(data, []byte(tc.from), []byte(tc.to), 1)
		if bytes.Equal(bad, data) {
			t.Fatalf("%q is not in deployment.yaml", tc.from)
		}
		if _, err := decode(bad); err == nil {
			t.Errorf("%q for %q decoded without error", tc.to, tc.from)
		}
	}
	if _, err := decode([]byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  name: y\n")); err == nil {
		t.Error("a duplicate field decoded without error")
	}
}

// Built binaries, shared by the tests.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds the example and dcr-janitor once.
func binaries(t *testing.T) (example, janitor string) {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "dcr-deploy-"); buildErr != nil {
			return
		}
		for _, b := range []struct{ dir, pkg, out string }{{"../example", ".", "example"}, {"..", "./cmd/dcr-janitor", "dcr-janitor"}} {
			out, err := exec.Command("go", "build", "-C", b.dir, "-o", filepath.Join(binDir, b.out), b.pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "example"), filepath.Join(binDir, "dcr-janitor")
}

// help runs bin -h and returns what it printed.
func help(t *testing.T, bin string) string {
	t.Helper()
	out, _ := exec.Command(bin, "-h").CombinedOutput() // -h may exit 0 or 2
	if !strings.Contains(string(out), "Usage:") {
		t.Fatalf("%s -h: %s", bin, out)
	}
	return string(out)
}

var (
	variableRE = regexp.MustCompile(`(?m)^\s+((?:AUTHLETE|DCR|OTEL)_[A-Z0-9_]+)\s`)
	flagRE     = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
	drainRE    = regexp.MustCompile(`DCR_SHUTDOWN_DRAIN[^(]*\(default ([0-9a-z.]+)\)`)
	inFlightRE = regexp.MustCompile(`requests in flight up to ([0-9a-z.]+) to finish`)
)

// otelRE finds the OTEL_* variables -h names in its prose: the exporter
// honours the standard ones.
var otelRE = regexp.MustCompile(`\bOTEL_[A-Z0-9_]+[A-Z0-9]`)

// variables are the variables a -h lists, one a line.
func variables(usage string) []string {
	var out []string
	for _, m := range variableRE.FindAllStringSubmatch(usage, -1) {
		out = append(out, m[1])
	}
	for _, v := range otelRE.FindAllString(usage, -1) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func duration(t *testing.T, re *regexp.Regexp, usage string) time.Duration {
	t.Helper()
	m := re.FindStringSubmatch(usage)
	if m == nil {
		t.Fatalf("example -h has no %s:\n%s", re, usage)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

func env(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// TestDeploymentMatchesExample: each variable the Deployment sets is one the
// example's -h lists, the credentials and DCR_REDIS_URL come from the
// Secret, and the grace period covers the drain and the requests in flight
// as -h states them.
func TestDeploymentMatchesExample(t *testing.T) {
	m := load(t)
	example, _ := binaries(t)
	usage := help(t, example)
	known := variables(usage)
	if !slices.Contains(known, "DCR_SHUTDOWN_DRAIN") || !slices.Contains(known, "AUTHLETE_SERVICE_ACCESSTOKEN") {
		t.Fatalf("example -h lists %v", known)
	}
	spec := m.deployment.Spec.Template.Spec
	c := container(t, spec, "dcr")
	secret := secretOf(t, c, known)
	for _, name := range []string{"AUTHLETE_BASE_URL", "AUTHLETE_SERVICE_APIKEY", "AUTHLETE_SERVICE_ACCESSTOKEN", "DCR_REDIS_URL"} {
		e, ok := env(c, name)
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != secret {
			t.Errorf("%s is not from the Secret %q", name, secret)
		}
	}
	for _, name := range []string{"DCR_PUBLIC_URL", "DCR_TRUSTED_PROXIES", "DCR_METRICS_ADDR"} {
		if e, ok := env(c, name); !ok || e.Value == "" {
			t.Errorf("%s is not set", name)
		}
	}

	drain := duration(t, drainRE, usage)
	if e, ok := env(c, "DCR_SHUTDOWN_DRAIN"); ok {
		d, err := time.ParseDuration(e.Value)
		if err != nil {
			t.Fatalf("DCR_SHUTDOWN_DRAIN %q: %v", e.Value, err)
		}
		drain = d
	}
	inFlight := duration(t, inFlightRE, usage)
	const margin = 5 * time.Second
	grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	if grace < drain+inFlight+margin {
		t.Errorf("terminationGracePeriodSeconds %v < drain %v + requests in flight %v + %v", grace, drain, inFlight, margin)
	}
	if p := c.ReadinessProbe; p == nil || time.Duration(p.PeriodSeconds*p.FailureThreshold)*time.Second > drain {
		t.Errorf("the readiness probe does not see the drain's 503 within the drain (%v)", drain)
	}
	if m.deployment.Spec.Replicas == nil || *m.deployment.Spec.Replicas < 2 {
		t.Error("fewer than 2 replicas")
	}
	if ru := m.deployment.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("a rolling update may take a replica away before its successor is ready (maxUnavailable is not 0)")
	}
	hardened(t, "deployment", spec)
}

// secretOf checks that every variable of c is one that -h lists (known),
// and that every one taken from a Secret is from the same one, which it
// returns.
func secretOf(t *testing.T, c corev1.Container, known []string) string {
	t.Helper()
	for _, e := range c.Env {
		if !slices.Contains(known, e.Name) {
			t.Errorf("%s: %s is not a variable its -h lists (%v)", c.Name, e.Name, known)
		}
	}
	if len(c.EnvFrom) > 0 {
		t.Errorf("%s: envFrom hides which variables are set", c.Name)
	}
	return secretName(t, c)
}

// secretName is the Secret that c's variables come from.
func secretName(t *testing.T, c corev1.Container) string {
	t.Helper()
	var secret string
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			if secret != "" && e.ValueFrom.SecretKeyRef.Name != secret {
				t.Errorf("%s: %s is from Secret %q, the others from %q", c.Name, e.Name, e.ValueFrom.SecretKeyRef.Name, secret)
			}
			secret = e.ValueFrom.SecretKeyRef.Name
		}
	}
	if secret == "" {
		t.Errorf("%s: no variable from a Secret", c.Name)
	}
	return secret
}

// hardened: non-root, no privilege escalation, a read-only root file
// system, no capabilities, requests and limits, no service account token.
func hardened(t *testing.T, what string, spec corev1.PodSpec) {
	t.Helper()
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: the service account token is mounted", what)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		nonRoot := (sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) ||
			(spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot)
		if !nonRoot {
			t.Errorf("%s/%s: may run as root", what, c.Name)
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: privilege escalation allowed", what, c.Name)
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s/%s: the root file system is writable", what, c.Name)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s/%s: capabilities not dropped", what, c.Name)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[res]; !ok {
				t.Errorf("%s/%s: no %s request", what, c.Name, res)
			}
			if _, ok := c.Resources.Limits[res]; !ok {
				t.Errorf("%s/%s: no %s limit", what, c.Name, res)
			}
		}
	}
}

// port resolves a probe's or a Service's port, by name or number, to a
// container port number.
func port(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	t.Fatalf("port %s is not one of the container's", p.String())
	return 0
}

var (
	listenRE  = regexp.MustCompile(`serving DCR endpoints.* listen=(\S+)`)
	metricsRE = regexp.MustCompile(`serving DCR endpoints.* metrics=(http://\S+/metrics)`)
)

// TestProbesAndPortsOnTheRunningExample starts the built example with the
// Deployment's settings (its literal variables, the embedded emulator for
// the Secret's, loopback for its addresses) and asks it each probe's path
// on the probe's port: the public listener, the port of -addr. The
// metrics are on DCR_METRICS_ADDR's port, which the Service does not
// target, and not on the public one.
func TestProbesAndPortsOnTheRunningExample(t *testing.T) {
	m := load(t)
	example, _ := binaries(t)
	c := container(t, m.deployment.Spec.Template.Spec, "dcr")

	addr := ""
	for i, a := range c.Args {
		if a == "-addr" && i+1 < len(c.Args) {
			addr = c.Args[i+1]
		}
	}
	_, publicPort, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("the container's -addr %q: %v", addr, err)
	}
	metricsEnv, _ := env(c, "DCR_METRICS_ADDR")
	_, metricsPort, err := net.SplitHostPort(metricsEnv.Value)
	if err != nil {
		t.Fatalf("DCR_METRICS_ADDR %q: %v", metricsEnv.Value, err)
	}

	cmdEnv := []string{"DCR_EMBEDDED_EMULATOR=true", "DCR_SHUTDOWN_DRAIN=0"}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AUTHLETE_") && !strings.HasPrefix(e, "DCR_") && !strings.HasPrefix(e, "OTEL_") {
			cmdEnv = append(cmdEnv, e)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil: // the Secret's: the embedded emulator instead
		case e.Name == "DCR_METRICS_ADDR":
			cmdEnv = append(cmdEnv, e.Name+"=127.0.0.1:0")
		default:
			cmdEnv = append(cmdEnv, e.Name+"="+e.Value)
		}
	}
	cmd := exec.Command(example, "-addr", "127.0.0.1:0")
	cmd.Env = cmdEnv
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("example's output:\n%s", out.String())
		}
	})
	var listen, metricsURL string
	for deadline := time.Now().Add(60 * time.Second); listen == ""; {
		if mm := listenRE.FindStringSubmatch(out.String()); mm != nil {
			listen, metricsURL = mm[1], metricsRE.FindStringSubmatch(out.String())[1]
			break
		}
		select {
		case <-done:
			t.Fatalf("the example stopped with the Deployment's settings:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the example did not start")
		}
	}
	base := "http://" + listen

	for _, p := range []struct {
		name  string
		probe *corev1.Probe
	}{{"startup", c.StartupProbe}, {"liveness", c.LivenessProbe}, {"readiness", c.ReadinessProbe}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		if got := fmt.Sprint(port(t, c, p.probe.HTTPGet.Port)); got != publicPort {
			t.Errorf("the %s probe's port %s is not the public one, %s", p.name, got, publicPort)
		}
		if status := get(t, base+p.probe.HTTPGet.Path); status != http.StatusOK {
			t.Errorf("%s probe: GET %s is %d on the running example", p.name, p.probe.HTTPGet.Path, status)
		}
	}
	if status := get(t, metricsURL); status != http.StatusOK {
		t.Errorf("GET %s is %d", metricsURL, status)
	}
	if status := get(t, base+"/metrics"); status != http.StatusNotFound {
		t.Errorf("/metrics on the public port is %d, not 404", status)
	}

	// The Service targets the public port, never the metrics one.
	if m.service.Spec.Selector["app.kubernetes.io/name"] == "" {
		t.Error("the Service selects nothing")
	}
	for k, v := range m.service.Spec.Selector {
		if m.deployment.Spec.Template.Labels[k] != v {
			t.Errorf("the Service's selector %s=%s does not select the Deployment's pods", k, v)
		}
	}
	for _, sp := range m.service.Spec.Ports {
		target := fmt.Sprint(port(t, c, sp.TargetPort))
		if target == metricsPort {
			t.Errorf("the Service exposes the metrics port %s", target)
		}
		if target != publicPort {
			t.Errorf("the Service's port %d targets %s, not the public port %s", sp.Port, target, publicPort)
		}
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestPodDisruptionBudget: it selects the Deployment's pods and lets one
// go at a time, never all.
func TestPodDisruptionBudget(t *testing.T) {
	m := load(t)
	sel := m.pdb.Spec.Selector
	if sel == nil || len(sel.MatchLabels) == 0 {
		t.Fatal("the PodDisruptionBudget selects nothing")
	}
	for k, v := range sel.MatchLabels {
		if m.deployment.Spec.Template.Labels[k] != v {
			t.Errorf("its selector %s=%s does not select the Deployment's pods", k, v)
		}
	}
	min := m.pdb.Spec.MinAvailable
	if min == nil || min.Type != intstr.Int || min.IntVal < 1 || min.IntVal >= *m.deployment.Spec.Replicas {
		t.Errorf("minAvailable %v: want at least 1 and fewer than the %d replicas", min, *m.deployment.Spec.Replicas)
	}
}

// TestJanitorCronJob: one run at a time, each flag one dcr-janitor's -h
// lists, its variables from the Deployment's Secret, and the lock record
// on a persistent volume mounted where -lock-file points.
func TestJanitorCronJob(t *testing.T) {
	m := load(t)
	_, janitor := binaries(t)
	usage := help(t, janitor)
	if m.cronJob.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy %q: two runs would race on the lock record", m.cronJob.Spec.ConcurrencyPolicy)
	}
	spec := m.cronJob.Spec.JobTemplate.Spec.Template.Spec
	c := container(t, spec, "dcr-janitor")
	secret := secretOf(t, c, variables(usage))
	if want := secretName(t, container(t, m.deployment.Spec.Template.Spec, "dcr")); secret != want {
		t.Errorf("the janitor's Secret %q is not the Deployment's %q", secret, want)
	}
	for _, name := range []string{"AUTHLETE_BASE_URL", "AUTHLETE_SERVICE_APIKEY", "AUTHLETE_SERVICE_ACCESSTOKEN"} {
		if e, ok := env(c, name); !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s is not from the Secret", name)
		}
	}

	flags := map[string]bool{}
	for _, mm := range flagRE.FindAllStringSubmatch(usage, -1) {
		flags[mm[1]] = true
	}
	var lockFile string
	grace := false
	for i, a := range c.Args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !flags[name] {
			t.Errorf("-%s is not a flag of dcr-janitor (%v)", name, flags)
		}
		grace = grace || name == "grace"
		if name == "lock-file" && i+1 < len(c.Args) {
			lockFile = c.Args[i+1]
		}
	}
	if grace && lockFile == "" {
		t.Error("-grace without -lock-file")
	}
	if lockFile == "" {
		return
	}
	var mount *corev1.VolumeMount
	for i, vm := range c.VolumeMounts {
		if rel, err := filepath.Rel(vm.MountPath, filepath.Dir(lockFile)); err == nil && !strings.HasPrefix(rel, "..") {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil || mount.ReadOnly {
		t.Fatalf("-lock-file %s is on no writable volume (the root file system is read-only)", lockFile)
	}
	for _, v := range spec.Volumes {
		if v.Name != mount.Name {
			continue
		}
		if v.PersistentVolumeClaim == nil {
			t.Fatalf("the volume %q of the lock record is not a PersistentVolumeClaim: the record would not outlive the run", v.Name)
		}
		if _, ok := m.pvcs[v.PersistentVolumeClaim.ClaimName]; !ok {
			t.Errorf("no PersistentVolumeClaim %q in kubernetes/", v.PersistentVolumeClaim.ClaimName)
		}
		hardened(t, "cronjob", spec)
		return
	}
	t.Errorf("no volume %q", mount.Name)
}

// syncBuffer is a bytes.Buffer safe for a command's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
