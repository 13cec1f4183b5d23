package scenario

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// HCL's parser recurses once per nesting level and per operator, so a small
// file of a million "(" or "!" exhausts the stack, which is fatal in Go and
// cannot be recovered. These limits are checked on the tokens before parsing;
// real scenarios stay far below them.
const (
	MaxNesting = 64
	// MaxOperators bounds the operators (and attribute dots) in one
	// expression between commas, assignments and line ends.
	MaxOperators = 500
)

type lexer func([]byte, string, hcl.Pos) (hclsyntax.Tokens, hcl.Diagnostics)

// Lexers for the three kinds of HCL text the loader reads.
var (
	lexConfig     lexer = hclsyntax.LexConfig
	lexTemplate   lexer = hclsyntax.LexTemplate
	lexExpression lexer = hclsyntax.LexExpression
)

// checkComplexity rejects text that is nested or chained deeper than the
// parser can take. Lexing errors are left to the parser, which reports them
// better.
func checkComplexity(lex lexer, src []byte, filename string) hcl.Diagnostics {
	tokens, _ := lex(src, filename, hcl.InitialPos)
	counts := []int{0} // operators in the current expression, per nesting level
	for _, tok := range tokens {
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			counts = append(counts, 0)
			if len(counts)-1 > MaxNesting {
				return tooComplex(tok.Range, "Nested too deeply",
					fmt.Sprintf("Brackets, strings and templates nest at most %d deep here.", MaxNesting))
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if len(counts) > 1 {
				counts = counts[:len(counts)-1]
			}
		case hclsyntax.TokenComma, hclsyntax.TokenEqual:
			counts[len(counts)-1] = 0
		case hclsyntax.TokenNewline:
			if len(counts) == 1 {
				counts[0] = 0
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenAnd, hclsyntax.TokenOr, hclsyntax.TokenBang,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
			hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq,
			hclsyntax.TokenQuestion, hclsyntax.TokenDot:
			counts[len(counts)-1]++
			if counts[len(counts)-1] > MaxOperators {
				return tooComplex(tok.Range, "Expression too long",
					fmt.Sprintf("One expression may have at most %d operators; split it with locals.", MaxOperators))
			}
		}
	}
	return nil
}

func tooComplex(rng hcl.Range, summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}}
}
