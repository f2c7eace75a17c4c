package pipeline

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

// Built-in recipes: complete configs whose comments justify each choice.
// They are data: the engine knows no stage by name.
//
//go:embed recipes/*.yaml
var recipeFiles embed.FS

// Recipes lists the built-in recipe names.
func Recipes() []string {
	entries, _ := fs.ReadDir(recipeFiles, "recipes")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// RecipeText returns a recipe's YAML.
func RecipeText(name string) ([]byte, bool) {
	data, err := recipeFiles.ReadFile("recipes/" + name + ".yaml")
	return data, err == nil && !strings.ContainsAny(name, "/.")
}
