// Command kube is one binary for the sandbox's upstream control plane.
//
// It dispatches on the name it was called by (a symlink) or on its first
// argument, the way hyperkube did: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kubectl all come from the
// pinned k8s.io/kubernetes release in go.mod and share one link step.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	_ "time/tzdata" // CronJob time zones

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

var commands = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if !known(name) && len(args) > 0 && known(args[0]) {
		name, args = args[0], args[1:]
		os.Args = append([]string{name}, args...)
	}
	switch name {
	case "etcd":
		etcdmain.Main(os.Args)
	case "kubectl":
		logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) //nolint:errcheck
		if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
	default:
		build, ok := commands[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "usage: kube {%s} [flags]\n", strings.Join(names(), "|"))
			os.Exit(2)
		}
		os.Exit(cli.Run(build()))
	}
}

func known(name string) bool {
	_, ok := commands[name]
	return ok || name == "etcd" || name == "kubectl"
}

func names() []string {
	out := []string{"etcd", "kubectl"}
	for n := range commands {
		out = append(out, n)
	}
	return out
}
